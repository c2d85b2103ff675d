/**
 * The tree `backy2 fuse` shows, read from the catalog on every lookup so that new, changed and removed
 * versions show as they are:
 *
 *     by_version_uid/{uid}/          one directory per finished version (times: the version's date, UTC)
 *         data                       the version's bytes (copy-on-write)
 *         name, snapshot_name        the names as text
 *         expire                     `YYYY-MM-DDTHH:MM:SS`, or empty
 *         tags                       the tags, comma-separated
 *         valid | invalid            holds its own name
 *         protected                  only when protected
 *     by_name/{name}/{uid}           symlink to ../../by_version_uid/{uid}
 *
 * A name cannot hold `/` in a path, so `by_name` shows `%` as `%25` and `/` as `%2F` (and an empty name as
 * `%`, `.` and `..` as `%2E` and `%2E%2E`).
 *
 * Paths get inode numbers on first sight (the root is 1) and keep them for the life of the mount.
 */
import type { Version } from "../catalog/catalog.ts";
import { parseCatalogTime } from "../util/clock.ts";

export type FuseNode =
  | { kind: "dir"; time: number }
  | { kind: "file"; time: number; content: Uint8Array<ArrayBuffer> }
  | { kind: "link"; time: number; target: string }
  | { kind: "data"; time: number; size: number; uid: string };

export interface DirEntry {
  name: string;
  type: "dir" | "file" | "link";
}

/** Where the tree finds versions (the served versions in the mount; a fake in tests). */
export interface VersionLookup {
  /** Finished versions (of one name, when given). */
  list(name?: string): Promise<Version[]>;
  /** The finished version `uid`, or null. */
  find(uid: string): Promise<Version | null>;
}

const BY_UID = "by_version_uid";
const BY_NAME = "by_name";

export class FuseTree {
  private readonly inodes = new Map<string, number>();
  private readonly paths: string[] = ["", "/"];

  /** @param mountTime seconds since the epoch, the time of the root and the top directories */
  constructor(private readonly versions: VersionLookup, private readonly mountTime: number) {
    this.inodes.set("/", 1);
  }

  /** `name` inside directory `parent`. */
  static join(parent: string, name: string): string {
    return parent === "/" ? `/${name}` : `${parent}/${name}`;
  }

  /** The inode number of `path`, given on first use. */
  inode(path: string): number {
    let ino = this.inodes.get(path);
    if (ino === undefined) {
      ino = this.paths.length;
      this.paths.push(path);
      this.inodes.set(path, ino);
    }
    return ino;
  }

  /** The path of inode `ino`, if it was given. */
  path(ino: number): string | undefined {
    return ino >= 1 ? this.paths[ino] : undefined;
  }

  /** The node at `path` as the catalog has it now, or null. */
  async node(path: string): Promise<FuseNode | null> {
    const [top, key, leaf, ...rest] = segments(path);
    if (rest.length > 0) return null;
    if (top === undefined) return { kind: "dir", time: this.mountTime };
    if (top === BY_UID) return key === undefined ? { kind: "dir", time: this.mountTime } : this.versionNode(key, leaf);
    if (top !== BY_NAME) return null;
    if (key === undefined) return { kind: "dir", time: this.mountTime };
    const name = decodeName(key);
    if (name === null) return null;
    if (leaf === undefined) {
      return (await this.versions.list(name)).length > 0 ? { kind: "dir", time: this.mountTime } : null;
    }
    const version = await this.versions.find(leaf);
    if (!version || version.name !== name) return null;
    return { kind: "link", time: seconds(version.date), target: `../../${BY_UID}/${version.uid}` };
  }

  /** The entries of directory `path` (without `.` and `..`), or null when it is not a directory. */
  async children(path: string): Promise<DirEntry[] | null> {
    const [top, key, leaf] = segments(path);
    const entries = (type: DirEntry["type"], names: string[]) => names.map((name) => ({ name, type }));
    if (top === undefined) return entries("dir", [BY_UID, BY_NAME]);
    if (leaf !== undefined) return null;
    if (top === BY_UID) {
      if (key === undefined) return entries("dir", (await this.versions.list()).map((version) => version.uid));
      const version = await this.versions.find(key);
      return version ? entries("file", [...Object.keys(metadataFiles(version)), "data"].sort()) : null;
    }
    if (top !== BY_NAME) return null;
    if (key === undefined) {
      return entries("dir", [...new Set((await this.versions.list()).map((version) => encodeName(version.name)))]);
    }
    const name = decodeName(key);
    return name === null ? null : entries("link", (await this.versions.list(name)).map((version) => version.uid));
  }

  private async versionNode(uid: string, file: string | undefined): Promise<FuseNode | null> {
    const version = await this.versions.find(uid);
    if (!version) return null;
    const time = seconds(version.date);
    if (file === undefined) return { kind: "dir", time };
    if (file === "data") return { kind: "data", time, size: version.sizeBytes, uid };
    const content = metadataFiles(version)[file];
    return content === undefined ? null : { kind: "file", time, content: new TextEncoder().encode(content) };
  }
}

/** The metadata files of a version and their text. */
export function metadataFiles(version: Version): Record<string, string> {
  const files: Record<string, string> = {
    name: version.name,
    snapshot_name: version.snapshotName,
    expire: version.expire ? version.expire.slice(0, 19).replace(" ", "T") : "",
    tags: version.tags.join(","),
  };
  if (version.valid) files.valid = "valid";
  else files.invalid = "invalid";
  if (version.protected) files.protected = "protected";
  return files;
}

/** A version name as a directory name. */
export function encodeName(name: string): string {
  if (name === "") return "%";
  if (name === "." || name === "..") return name.replaceAll(".", "%2E");
  return name.replaceAll("%", "%25").replaceAll("/", "%2F");
}

/** The version name of a directory name, or null when no name encodes to it. */
export function decodeName(encoded: string): string | null {
  if (encoded === "%") return "";
  const name = encoded.replace(/%(25|2F|2E)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return encodeName(name) === encoded ? name : null;
}

function segments(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "");
}

/** Seconds since the epoch of a catalog time (naive UTC text). */
function seconds(catalogTime: string): number {
  return parseCatalogTime(catalogTime).getTime() / 1000;
}
