/**
 * scripts/bench's "image" data set: an ext4 image filled from a directory tree (by default /usr/share) with
 * `mke2fs -d`, a second image equal to it except for 1 % of its 4 MiB regions (chosen by a seeded generator and
 * overwritten with its bytes), and the `rbd diff`-style hints that name the changed regions. All three are cached
 * in the bench directory, named by image size and source tree, so that reruns reuse them.
 */
import { basename, join } from "node:path";
import { MiB, run } from "./bench_run.ts";

export interface ImageSet {
  /** The image as mke2fs made it. */
  first: string;
  /** The same image with some regions changed. */
  changed: string;
  /** JSON hints (one line) naming exactly the changed regions. */
  hints: string;
  bytes: number;
  regions: number;
  changedRegions: number;
}

const regionBytes = 4 * MiB;
const seed = 20261127;

/** Parses a mke2fs-style size: a number with an optional K, M, G or T suffix. */
export function imageBytes(size: string): number {
  const match = /^(\d+)([KMGT]?)$/i.exec(size);
  if (!match) throw new Error(`image size ${size}: expected a number with an optional K, M, G or T suffix`);
  const power = " KMGT".indexOf((match[2] || " ").toUpperCase());
  return Number(match[1]) * 1024 ** power;
}

/** Makes (or reuses) both images and the hints. */
export async function prepareImages(dir: string, size: string, from: string): Promise<ImageSet> {
  const bytes = imageBytes(size);
  const name = `image-${size}-${from.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
  const first = join(dir, `${name}.img`);
  const changed = join(dir, `${name}-changed.img`);
  const hints = join(dir, `${name}-changed.hints.json`);
  if (!hasSize(first, bytes)) {
    await Deno.remove(changed).catch(() => {});
    await makeImage(first, size, from);
  }
  const regions = Math.ceil(bytes / regionBytes);
  const chosen = chooseRegions(regions);
  if (!hasSize(changed, bytes) || !exists(hints)) await makeChangedImage(first, changed, hints, chosen, bytes);
  return { first, changed, hints, bytes, regions, changedRegions: chosen.length };
}

function hasSize(path: string, bytes: number): boolean {
  try {
    return Deno.statSync(path).size === bytes;
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** `mke2fs -d` into a temporary name first, so that an interrupted run leaves no image that looks complete. */
async function makeImage(path: string, size: string, from: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await Deno.remove(temporary).catch(() => {});
  console.error(`bench: making ${basename(path)} from ${from} (once; cached)`);
  await run("mke2fs", ["-q", "-F", "-t", "ext4", "-d", from, temporary, size]);
  await Deno.rename(temporary, path);
}

/** 1 % of the regions (at least one), the same ones on every run. */
function chooseRegions(regions: number): number[] {
  const next = xorshift(seed);
  const indices = Array.from({ length: regions }, (_, i) => i);
  const count = Math.max(1, Math.round(regions / 100));
  for (let i = 0; i < count; i++) {
    const j = i + next() % (regions - i);
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
  return indices.slice(0, count).sort((a, b) => a - b);
}

async function makeChangedImage(
  first: string,
  changed: string,
  hints: string,
  regions: number[],
  bytes: number,
): Promise<void> {
  const temporary = `${changed}.tmp`;
  await run("cp", ["--sparse=always", first, temporary]);
  const next = xorshift(seed + 1);
  const file = Deno.openSync(temporary, { write: true });
  const extents = [];
  try {
    for (const region of regions) {
      const offset = region * regionBytes;
      const data = new Uint8Array(Math.min(regionBytes, bytes - offset));
      const words = new Uint32Array(data.buffer, 0, data.length >>> 2);
      for (let i = 0; i < words.length; i++) words[i] = next();
      writeAllAt(file, offset, data);
      extents.push({ offset, length: data.length, exists: "true" });
    }
  } finally {
    file.close();
  }
  Deno.writeTextFileSync(hints, JSON.stringify(extents) + "\n");
  await Deno.rename(temporary, changed);
}

function writeAllAt(file: Deno.FsFile, offset: number, data: Uint8Array): void {
  file.seekSync(offset, Deno.SeekMode.Start);
  for (let done = 0; done < data.length;) done += file.writeSync(data.subarray(done));
}

/** A small seeded generator of 32-bit words (Marsaglia's xorshift); only determinism matters here. */
function xorshift(start: number): () => number {
  let state = start >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}
