/**
 * The versions a server (the FUSE mount, the NBD server) serves. A version is opened on first use and stays
 * open until the server ends, and so does a shared lock on it: `rm` (which needs it exclusively) cannot
 * remove a version that is being served, so cleanup cannot delete its blobs either. With copy-on-write each
 * version gets one temporary overlay for the server's life, shared by every reader of it.
 *
 * Versions still being written by a backup are not served (their block map is a draft).
 */
import type { Version } from "../catalog/catalog.ts";
import type { Lease } from "../lock/lock_manager.ts";
import type { Engine } from "../engine/engine.ts";
import { BlockCache, defaultBlockCache, type Image, VersionImage } from "../engine/block_reader.ts";
import { CowImage } from "../engine/cow_overlay.ts";

export interface ServeOptions {
  /** Accept writes into a temporary overlay in `cacheDir`. */
  cow: boolean;
  cacheDir: string;
}

/** Why a version cannot be served: it does not exist (or is unfinished), or another process holds its lock. */
export class NotServableError extends Error {
  constructor(readonly reason: "unknown" | "locked" | "broken", message: string) {
    super(message);
    this.name = "NotServableError";
  }
}

/** What the servers need of {@link ServedVersions} (tests give a fake). */
export interface VersionSource {
  readonly options: ServeOptions;
  list(name?: string): Promise<Version[]>;
  find(uid: string): Promise<Version | null>;
  open(uid: string): Promise<Image>;
}

export class ServedVersions implements VersionSource {
  private readonly images = new Map<string, { image: Image; lease: Lease }>();
  private readonly cache: BlockCache;

  constructor(private readonly engine: Engine, readonly options: ServeOptions) {
    this.cache = defaultBlockCache(engine.settings.blockSize);
  }

  /** Every finished version (of one name, when given), by name then date. */
  async list(name?: string): Promise<Version[]> {
    const filter = name === undefined ? {} : { name };
    return (await this.engine.catalog.listVersions(filter)).filter((version) => !version.inProgress);
  }

  /** The finished version `uid`, read from the catalog now; null when there is none. */
  async find(uid: string): Promise<Version | null> {
    if (uid === "" || uid.length > 255) return null;
    try {
      const version = await this.engine.catalog.getVersion(uid);
      return version.inProgress ? null : version;
    } catch {
      return null;
    }
  }

  /** The image of version `uid`, opened (and locked) on first use. */
  async open(uid: string): Promise<Image> {
    const open = this.images.get(uid);
    if (open) return open.image;
    const version = await this.find(uid);
    if (!version) throw new NotServableError("unknown", `Version ${uid} not found.`);
    const lease = await this.engine.locks.tryAcquire(uid, "shared");
    if (!lease) throw new NotServableError("locked", `Version ${uid} is locked by another process.`);
    let image: Image;
    try {
      const base = await VersionImage.open(this.engine, version, this.cache);
      image = this.options.cow ? CowImage.create(base, this.options.cacheDir) : base;
    } catch (error) {
      await lease.release();
      throw new NotServableError("broken", (error as Error).message);
    }
    this.images.set(uid, { image, lease });
    return image;
  }

  /** Closes every image (their overlays vanish) and releases their locks. */
  async close(): Promise<void> {
    for (const { image, lease } of this.images.values()) {
      image.close();
      await lease.release();
    }
    this.images.clear();
  }
}
