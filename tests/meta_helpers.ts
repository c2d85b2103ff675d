/**
 * Helpers of the tests of the metadata in the block store (store_metadata_test.ts, store_check_test.ts,
 * pg_recovery_test.ts): where a version's header and the page objects lie, reading a header back, losing the
 * catalog, switching encryption on, slowing writes down so that a backup can be killed in the middle, and
 * backing up generated images.
 */
import { type BlockKind, buildImage, expectRun, Rng, type Sandbox } from "./helpers.ts";
import type { MetaKind } from "../src/store/block_store.ts";
import { CodecStore } from "../src/store/codec_store.ts";
import { FileStore } from "../src/store/file_store.ts";
import { V1_CODEC, ZSTD_CODEC } from "../src/store/codecs.ts";
import { loadHeader } from "../src/meta/load.ts";
import type { VersionHeader } from "../src/meta/header_format.ts";

export const KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
export const OTHER_KEY = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/** The file of version `uid`'s header in the sandbox's file store. */
export function headerPath(sb: Sandbox, uid: string): string {
  return `${sb.dataDir}/meta/versions/${uid}.meta`;
}

/** The file of page object `name` in the sandbox's file store. */
export function pagePath(sb: Sandbox, name: string): string {
  return `${sb.dataDir}/meta/pages/${name}.meta`;
}

/** The names of the metadata objects of `kind` in the sandbox's file store, sorted. */
export async function metaNames(sb: Sandbox, kind: MetaKind): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${sb.dataDir}/meta/${kind}`)) {
      if (entry.name.endsWith(".meta")) names.push(entry.name.slice(0, -5));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** The sandbox's file store as backy2 reads it (with `key` for encrypted objects). */
export function codecStore(sb: Sandbox, key: string | null = null): CodecStore {
  const codec = key ? V1_CODEC : ZSTD_CODEC;
  const raw = key ? Uint8Array.from(key.match(/../g)!.map((hex) => parseInt(hex, 16))) : null;
  return new CodecStore(new FileStore(sb.dataDir), { codec, level: 1, key: raw, maxBlobSize: sb.blockSize });
}

/** Version `uid`'s header, read and checked as backy2 reads it. */
export async function readHeader(sb: Sandbox, uid: string, key: string | null = null): Promise<VersionHeader> {
  return await loadHeader(codecStore(sb, key), uid);
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

/** `cleanup --full` leaves unnamed objects younger than `hours` alone. */
export async function setCleanupGrace(sb: Sandbox, hours: number): Promise<void> {
  await setKey(sb, "[DataBackend]", "cleanup_grace_hours", String(hours));
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

/** The versions {@link backUpEveryKind} makes, by kind, and the images they were made of. */
export interface EveryKind {
  images: Record<string, string>;
  uids: Record<string, string>;
}

/**
 * Backs up one version of every kind: full (tagged, expiring), differential (protected), one continued with
 * `backup -c` after `kill` ran its first backup and killed it midway (tagged `killedTags`; `onKilled` looks at
 * it before it is continued), encrypted, and plain (expired).
 */
export async function backUpEveryKind(
  sb: Sandbox,
  seed: number,
  kill: (args: string[]) => Promise<void>,
  killedTags: string,
  onKilled: (uid: string) => Promise<void> = async () => {},
): Promise<EveryKind> {
  const rng = new Rng(seed);
  const images: Record<string, string> = {};
  images.full = await writeImage(sb, "full.img", rng, mixedBlocks(40), 1000);
  const changed = await Deno.readFile(images.full);
  changed.fill(7, 4096 * 5, 4096 * 7);
  await Deno.writeFile(images.diff = sb.path("diff.img"), changed);
  images.killed = await writeImage(sb, "killed.img", rng, mixedBlocks(96));
  images.encrypted = await writeImage(sb, "encrypted.img", rng, mixedBlocks(20), 10);
  images.plain = await writeImage(sb, "plain.img", rng, mixedBlocks(12));

  const uids: Record<string, string> = {};
  uids.full = await sb.backup(["-t", "daily,keep", "-e", "2031-02-03 04:05:06", sb.url("full.img"), "web"]);
  uids.diff = await sb.backup(["-f", uids.full, "-s", "snap2", sb.url("diff.img"), "web"]);
  await throttleWrites(sb, 64 * 1024);
  await kill(["backup", sb.url("killed.img"), "db"]);
  await throttleWrites(sb, undefined);
  uids.killed = (await sb.versions()).find((v) => v.name === "db")!.uid;
  await onKilled(uids.killed);
  expectRun(await sb.run(["backup", "-c", uids.killed, sb.url("killed.img"), "db"]), { code: 0, stderr: "" });
  await setEncryption(sb, true);
  uids.encrypted = await sb.backup(["-t", "secret", sb.url("encrypted.img"), "vault"]);
  await setEncryption(sb, false);
  await setCompression(sb, "none");
  uids.plain = await sb.backup([sb.url("plain.img"), "plain"]);
  for (
    const args of [["protect", uids.diff], ["expire", uids.plain, "2020-01-01"], ["add-tag", uids.killed, killedTags]]
  ) {
    expectRun(await sb.run(args), { code: 0, stderr: "" });
  }
  return { images, uids };
}

export { Rng };
