/**
 * `rbd://pool/image[@snapshot]`: Ceph RBD images through librados/librbd (bindings in ffi/).
 *
 * A source reads an image (or one of its snapshots) with up to `simultaneous_reads` reads in flight, each a
 * nonblocking `rbd_read2` on Deno's blocking-thread pool, so they really overlap. It can also tell a backup
 * which extents changed since an older snapshot of the same image (`rbd diff --whole-object`, in-tool).
 * A target writes into an image it creates with the version's size and `new_image_features`, or, with `-f`,
 * into an existing image that is not smaller.
 *
 * Errors keep the reference's texts and exit codes: a missing pool or image/snapshot prints an ERROR line and
 * a plain line and exits 1; so does a restore onto an existing image without `-f`. Nothing waits forever: an
 * unreachable cluster fails after `client_mount_timeout`, a stuck OSD operation after `rados_osd_op_timeout`
 * (30 s and 300 s unless the Ceph config sets them).
 */
import { CephError, Cluster, ENOENT, type Ioctx } from "../../ffi/librados.ts";
import { createImage, featureBits, Image } from "../../ffi/librbd.ts";
import type { RbdSettings } from "../config/config.ts";
import type { Hint } from "../engine/hints.ts";
import { BackyError } from "../util/errors.ts";
import type { Source, Target } from "./io.ts";
import { Slots } from "../util/slots.ts";

/** Used when the Ceph config leaves these at librados' defaults (5 min to connect; OSD ops wait forever). */
const TIMEOUT_FALLBACKS = {
  client_mount_timeout: { unless: "300", value: "30" },
  rados_osd_op_timeout: { unless: "0", value: "300" },
};

/** Parses a source URL: pool, image and optional snapshot. */
export function parseRbdSource(url: string): { pool: string; image: string; snapshot: string | null } {
  const match = /^rbd:\/\/([^/]+)\/([^@]+)@?(.+)?$/.exec(url);
  if (!match) {
    throw new BackyError(`Not a valid io name: ${url} . Need pool/imagename or pool/imagename@snapshotname`);
  }
  return { pool: match[1], image: match[2], snapshot: match[3] ?? null };
}

/** Parses a target URL: pool and image (no snapshot). */
export function parseRbdTarget(url: string): { pool: string; image: string } {
  const match = /^rbd:\/\/([^/]+)\/([^@]+)$/.exec(url);
  if (!match) throw new BackyError(`Not a valid io name: ${url} . Need pool/imagename`);
  return { pool: match[1], image: match[2] };
}

/** An ERROR line, then a plain line on stderr, exit 1 (the reference's `exit('...')`). */
function openError(message: string, plainLine: string): BackyError {
  return new BackyError(message, { exitCode: 1, bare: true, plainLine });
}

/** Turns a librados/librbd failure into a one-line error (exit 100). */
function cephFailure(what: string, error: unknown): unknown {
  if (error instanceof CephError) return new BackyError(`${what}: ${error.reason}`);
  if (error instanceof Error && error.message.startsWith("Cannot load")) return new BackyError(error.message);
  return error;
}

/** A cluster connection with one pool open. */
class PoolConnection {
  private constructor(readonly cluster: Cluster, readonly ioctx: Ioctx) {}

  /** Connects and opens `pool`; a missing pool is the reference's "Pool not found" (exit 1). */
  static async open(settings: RbdSettings, pool: string): Promise<PoolConnection> {
    const cluster = await connect(settings);
    try {
      return new PoolConnection(cluster, await cluster.openIoctx(pool));
    } catch (error) {
      await cluster.shutdown();
      if (error instanceof CephError && error.code === ENOENT) {
        throw openError(`Pool not found: ${pool}`, "Error opening backup source.");
      }
      throw cephFailure(`Cannot open pool ${pool}`, error);
    }
  }

  async close(): Promise<void> {
    try {
      this.ioctx.destroy();
    } finally {
      await this.cluster.shutdown();
    }
  }
}

async function connect(settings: RbdSettings): Promise<Cluster> {
  try {
    return await Cluster.connect({
      conffile: settings.cephConffile,
      clusterName: settings.clusterName,
      radosName: settings.radosName,
      fallbacks: TIMEOUT_FALLBACKS,
    });
  } catch (error) {
    if (error instanceof CephError && error.call === "rados_conf_read_file") {
      throw new BackyError(`Cannot read the Ceph configuration ${settings.cephConffile}: ${error.reason}`);
    }
    throw cephFailure(
      `Cannot connect to the Ceph cluster of ${settings.cephConffile} as ${settings.radosName}`,
      error,
    );
  }
}

/** Closes an image and then its connection, whatever fails. */
async function closeAll(image: Image | null, connection: PoolConnection): Promise<void> {
  try {
    await image?.close();
  } finally {
    await connection.close();
  }
}

export class RbdSource implements Source {
  readonly size: number;
  readonly parallelReads: number;
  private readonly limiter: Slots;

  private constructor(
    readonly url: string,
    private readonly connection: PoolConnection,
    private readonly image: Image,
    parallelReads: number,
  ) {
    this.size = image.size();
    this.parallelReads = parallelReads;
    this.limiter = new Slots(parallelReads);
  }

  static async open(url: string, settings: RbdSettings): Promise<RbdSource> {
    const { pool, image, snapshot } = parseRbdSource(url);
    const connection = await PoolConnection.open(settings, pool);
    let opened: Image | null = null;
    try {
      opened = await Image.open(connection.ioctx, image, snapshot, true);
      return new RbdSource(url, connection, opened, settings.simultaneousReads);
    } catch (error) {
      await closeAll(opened, connection);
      if (error instanceof CephError && error.code === ENOENT) {
        // Python formats a missing snapshot as None.
        throw openError(`Image/Snapshot not found: ${image}@${snapshot ?? "None"}`, "Error opening backup source.");
      }
      throw cephFailure(`Cannot open ${url}`, error);
    }
  }

  read(offset: number, into: Uint8Array): Promise<number> {
    return this.limiter.run(async () => {
      try {
        let done = 0;
        while (done < into.length) {
          const n = await this.image.read(offset + done, into.subarray(done));
          if (n === 0) break;
          done += n;
        }
        return done;
      } catch (error) {
        throw cephFailure(`Reading ${this.url} at offset ${offset} failed`, error);
      }
    });
  }

  /**
   * The extents that changed between snapshot `snapshotName` of this image and the opened snapshot, as
   * `rbd diff --from-snap SNAP --whole-object` reports them; null when there is no such diff to trust: the
   * source is not a snapshot, the old snapshot is gone, or the image was resized in between.
   */
  async changesSince(snapshotName: string): Promise<Hint[] | null> {
    if (this.image.snapshot === null || snapshotName === "") return null;
    try {
      const snapshots = await this.image.snapshots();
      const old = snapshots.find((snap) => snap.name === snapshotName);
      const current = snapshots.find((snap) => snap.name === this.image.snapshot);
      // A diff only runs forward in time, over an image that kept its size.
      if (!old || !current || old.id > current.id || old.size !== this.size) return null;
      return await this.image.diff(snapshotName, this.size);
    } catch (error) {
      throw cephFailure(`Cannot diff ${this.url} against snapshot ${snapshotName}`, error);
    }
  }

  async close(): Promise<void> {
    await closeAll(this.image, this.connection);
  }
}

export class RbdTarget implements Target {
  private readonly limiter: Slots;

  private constructor(
    readonly url: string,
    private readonly connection: PoolConnection,
    private readonly image: Image,
    /** An image we just created reads as zeros already: zero blocks need no write. */
    private readonly fresh: boolean,
    parallelWrites: number,
  ) {
    this.limiter = new Slots(parallelWrites);
  }

  static async open(url: string, sizeBytes: number, force: boolean, settings: RbdSettings): Promise<RbdTarget> {
    const { pool, image } = parseRbdTarget(url);
    const features = imageFeatures(settings.newImageFeatures);
    const connection = await PoolConnection.open(settings, pool);
    let opened: Image | null = null;
    try {
      opened = await openExisting(connection.ioctx, image);
      const fresh = opened === null;
      if (opened === null) {
        await createImage(connection.ioctx, image, sizeBytes, features);
        opened = await Image.open(connection.ioctx, image, null, false);
      } else checkExisting(opened, sizeBytes, force);
      return new RbdTarget(url, connection, opened, fresh, settings.simultaneousWrites);
    } catch (error) {
      await closeAll(opened, connection);
      throw cephFailure(`Cannot open restore target ${url}`, error);
    }
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return this.limiter.run(() =>
      this.guard(`Writing ${this.url} at offset ${offset}`, this.image.write(offset, data))
    );
  }

  /** `rbd_write_zeroes`, not a discard: RBD drops discards that do not cover whole objects. */
  writeZeroes(offset: number, length: number): Promise<void> {
    if (this.fresh) return Promise.resolve();
    return this.limiter.run(() =>
      this.guard(`Zeroing ${this.url} at offset ${offset}`, this.image.writeZeroes(offset, length))
    );
  }

  flush(): Promise<void> {
    return this.guard(`Flushing ${this.url}`, this.image.flush());
  }

  /** Flushes (so that a write error is not lost), then closes the image and the connection whatever happens. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await closeAll(this.image, this.connection);
    }
  }

  private async guard(what: string, work: Promise<void>): Promise<void> {
    try {
      await work;
    } catch (error) {
      throw cephFailure(`${what} failed`, error);
    }
  }
}

function imageFeatures(names: readonly string[]): bigint {
  try {
    return featureBits(names);
  } catch (error) {
    throw new BackyError(`[io_rbd] new_image_features: ${(error as Error).message}`, { exitCode: 1 });
  }
}

/** Opens an image for writing, or returns null when it does not exist. */
async function openExisting(ioctx: Ioctx, name: string): Promise<Image | null> {
  try {
    return await Image.open(ioctx, name, null, false);
  } catch (error) {
    if (error instanceof CephError && error.code === ENOENT) return null;
    throw error;
  }
}

/**
 * Restoring into an existing image needs `-f`, and the image must hold the version. (The reference's check is
 * inverted — it refuses larger images; this refuses smaller ones, as its message says.)
 */
function checkExisting(image: Image, sizeBytes: number, force: boolean): void {
  if (!force) throw openError(`Image already exists: ${image.name}`, "Error opening restore target.");
  const size = image.size();
  if (size < sizeBytes) {
    throw openError(`Target size is too small. Has ${size}b, need ${sizeBytes}b.`, "Error opening restore target.");
  }
}
