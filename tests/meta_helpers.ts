/**
 * Helpers of the tests of the metadata objects in the block store (store_metadata_test.ts,
 * store_check_test.ts): where a version's object lies, losing the catalog, switching encryption on, slowing
 * writes down so that a backup can be killed in the middle, and backing up generated images.
 */
import { type BlockKind, buildImage, Rng, type Sandbox } from "./helpers.ts";

export const KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
export const OTHER_KEY = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/** The file of version `uid`'s metadata object in the sandbox's file store. */
export function metaPath(sb: Sandbox, uid: string): string {
  return `${sb.dataDir}/meta/${uid}.meta`;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Deletes the sandbox's catalog file with its write-ahead log: the disaster. */
export async function dropCatalog(sb: Sandbox): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(sb.path(`backy.sqlite${suffix}`)).catch(() => {});
}

/** Rewrites lines of one section key (removing it when `value` is undefined), adding it after `section`. */
async function setKey(sb: Sandbox, section: string, key: string, value: string | undefined): Promise<void> {
  const lines = (await Deno.readTextFile(sb.config)).split("\n").filter((line) => !line.startsWith(`${key}:`));
  if (value !== undefined) lines.splice(lines.indexOf(section) + 1, 0, `${key}: ${value}`);
  await Deno.writeTextFile(sb.config, lines.join("\n"));
}

/** Encryption version 1 with `key`, or none (the key stays configured, so old blobs still read). */
export async function setEncryption(sb: Sandbox, on: boolean, key = KEY): Promise<void> {
  await setKey(sb, "[DEFAULTS]", "encryption_version", on ? "1" : "0");
  await setKey(sb, "[DEFAULTS]", "encryption_key", key);
}

export async function setCompression(sb: Sandbox, compression: "zstd" | "none"): Promise<void> {
  await setKey(sb, "[DataBackend]", "compression", compression);
}

/** Limits blob writes to `bytesPerSecond` (undefined: no limit). */
export async function throttleWrites(sb: Sandbox, bytesPerSecond: number | undefined): Promise<void> {
  await setKey(sb, "[DataBackend]", "bandwidth_write", bytesPerSecond?.toString());
}

/** Writes an image of `kinds` blocks (and a short tail) to `name` in the sandbox; returns its path. */
export async function writeImage(sb: Sandbox, name: string, rng: Rng, kinds: BlockKind[], tail = 0): Promise<string> {
  const all: BlockKind[] = tail > 0 ? [...kinds, "random"] : kinds;
  const path = sb.path(name);
  await Deno.writeFile(path, buildImage(rng, sb.blockSize, all, kinds.length * sb.blockSize + tail));
  return path;
}

/** `count` blocks: random ones, with zero blocks and copies of earlier blocks among them. */
export function mixedBlocks(count: number): BlockKind[] {
  return Array.from({ length: count }, (_, i) => i % 5 === 3 ? "zero" : i % 7 === 6 ? { copyOf: i - 3 } : "random");
}

export { Rng };
