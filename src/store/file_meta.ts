/**
 * The file store's metadata objects: `{path}/meta/{kind}/{name}.meta` (see block_store.ts for the kinds), apart
 * from the two-character blob directories, which never clash with `meta`.
 *
 * Each object is written to a temporary file of its own (two processes may write one object at once: a tag
 * added while a scrub rewrites a header, or two backups writing the same shared page), synced, renamed into
 * place and its directory synced, so that it is durable when the write resolves: a version turns valid only
 * after that. A killed write leaves a `*.tmp` file that no listing shows and {@link FileMetaObjects.removeUnfinished}
 * deletes.
 */
import { join } from "../util/paths.ts";
import { checkMetaName, META_KINDS, type MetaKind, MetaNotFoundError, type StoredMeta } from "./block_store.ts";
import { RawFile } from "../platform/posix_io.ts";

const META_DIR = "meta";

export class FileMetaObjects {
  private readonly madeDirs = new Set<string>();

  constructor(private readonly root: string) {}

  private dir(kind: MetaKind): string {
    return join(this.root, META_DIR, kind);
  }

  private path(kind: MetaKind, name: string): string {
    checkMetaName(kind, name);
    return join(this.dir(kind), `${name}.meta`);
  }

  async write(kind: MetaKind, name: string, data: Uint8Array): Promise<void> {
    const path = this.path(kind, name);
    const dir = this.dir(kind);
    await this.makeDir(kind);
    const temporary = join(dir, `${name}.${crypto.randomUUID()}.tmp`);
    try {
      const file = RawFile.open(temporary, "replace");
      try {
        await file.writeAt(0, data as Uint8Array<ArrayBuffer>);
        await file.syncData();
      } finally {
        file.close();
      }
      await Deno.rename(temporary, path);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
    await syncDirectory(dir);
  }

  /** Creates `meta/{kind}` once per store, durably. */
  private async makeDir(kind: MetaKind): Promise<void> {
    if (this.madeDirs.has(kind)) return;
    const parent = join(this.root, META_DIR);
    for (const [dir, within] of [[parent, this.root], [this.dir(kind), parent]]) {
      try {
        await Deno.mkdir(dir);
        await syncDirectory(within);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
    this.madeDirs.add(kind);
  }

  async read(kind: MetaKind, name: string): Promise<Uint8Array> {
    const path = this.path(kind, name);
    try {
      return await Deno.readFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new MetaNotFoundError(name, `File ${path} not found.`);
      throw new Error(`Cannot read metadata object ${path}: ${(error as Error).message}`);
    }
  }

  async list(kind: MetaKind): Promise<StoredMeta[]> {
    const found: StoredMeta[] = [];
    for (const { name, path } of await this.files(kind, ".meta")) {
      try {
        found.push({ name, modified: (await Deno.stat(path)).mtime ?? new Date(0) });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error; // removed meanwhile
      }
    }
    return found.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  async remove(kind: MetaKind, name: string): Promise<boolean> {
    try {
      await Deno.remove(this.path(kind, name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    await syncDirectory(this.dir(kind));
    return true;
  }

  /** Deletes the temporary files of writes that never finished; returns how many. */
  async removeUnfinished(): Promise<number> {
    let removed = 0;
    for (const kind of META_KINDS) {
      for (const { path } of await this.files(kind, ".tmp", true)) {
        if (await Deno.remove(path).then(() => true, () => false)) removed++;
      }
    }
    return removed;
  }

  /** `meta/{kind}/{name}{suffix}` files (names without a dot, unless `dotted`). */
  private async files(kind: MetaKind, suffix: string, dotted = false): Promise<{ name: string; path: string }[]> {
    const found: { name: string; path: string }[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir(kind))) {
        if (!entry.isFile || !entry.name.endsWith(suffix)) continue;
        const name = entry.name.slice(0, -suffix.length);
        if (name !== "" && (dotted || !name.includes("."))) {
          found.push({ name, path: join(this.dir(kind), entry.name) });
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return found;
  }
}

/** Makes a directory's entries (files renamed into it) durable. */
async function syncDirectory(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}
