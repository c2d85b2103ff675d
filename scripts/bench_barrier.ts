/**
 * scripts/bench_barrier.ts: what each way of making blobs durable costs on a filesystem, measured inside the
 * backup's own work (the choice it informs is in src/store/file_store.ts). The data phase without the
 * catalog: 4 MiB blocks of a random file are read (5 at once), hashed with OpenSSL on the blocking threads,
 * written through a FileStore and made durable in batches of 32 blobs, each batch's barrier running while the
 * next batch is written, as in a backup. Every variant runs `--rounds` times, interleaved.
 *
 *   scripts/deno run -A scripts/bench_barrier.ts [--dir DIR (the store's filesystem)] [--size-mib 2048]
 *     [--rounds 3] [--no-hash]
 *
 * Prints per variant the median wall time, MiB/s, process CPU seconds and the CPU seconds of the kernel's own
 * threads (writeback, journal; counted system-wide, so other processes' IO adds to it).
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import process from "node:process";
import { randomFillSync } from "node:crypto";
import { type Barrier, FileStore } from "../src/store/file_store.ts";
import { RawFile } from "../src/platform/posix_io.ts";
import { openSslDigest } from "../src/platform/libcrypto.ts";
import { BufferPool } from "../src/engine/buffers.ts";
import { newBlobUid } from "../src/store/blob_uid.ts";
import { TaskGroup } from "../src/engine/task_group.ts";
import { kernelThreadSecondsSince, kernelThreadTicks } from "./bench_run.ts";

const MiB = 1048576;
const BLOCK = 4 * MiB;
const BATCH = 32;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string" },
    "size-mib": { type: "string" },
    rounds: { type: "string" },
    "no-hash": { type: "boolean" },
  },
});
const dir = resolve(values.dir ?? join(import.meta.dirname!, "..", ".bench", "barrier"));
const sizeMiB = Number(values["size-mib"] ?? 2048);
const rounds = Number(values.rounds ?? 3);
const digest = values["no-hash"] ? null : openSslDigest("sha512", 64);

interface Variant {
  name: string;
  barrier: Barrier;
  direct: boolean;
}

const VARIANTS: Variant[] = [
  { name: "page cache + syncfs", barrier: "syncfs", direct: false },
  { name: "page cache + fdatasync per blob", barrier: "fdatasync", direct: false },
  { name: "O_DIRECT + syncfs", barrier: "syncfs", direct: true },
  { name: "O_DIRECT + fdatasync per blob", barrier: "fdatasync", direct: true },
];

interface Sample {
  wall: number;
  cpu: number;
  kernelThreads: number;
}

function makeSource(path: string): void {
  try {
    if (Deno.statSync(path).size === sizeMiB * MiB) return;
  } catch { /* create it */ }
  using file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(16 * MiB);
  for (let done = 0; done < sizeMiB; done += 16) {
    randomFillSync(chunk);
    file.writeSync(chunk);
  }
}

/** One backup-like pass of `source` into a fresh store of the variant. */
async function pass(source: string, variant: Variant): Promise<Sample> {
  const root = join(dir, "store");
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await new Deno.Command("sync").output();
  const store = new FileStore(root, { barrier: variant.barrier, direct: variant.direct });
  const input = RawFile.open(source, "read");
  const pool = new BufferPool(BLOCK, 11);
  const reads = new TaskGroup(5);
  const work = new TaskGroup();
  let written = 0;
  let barriers = Promise.resolve();
  const kernelBefore = kernelThreadTicks();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let block = 0; block < sizeMiB / 4; block++) {
    await reads.room();
    const buffer = await pool.take();
    reads.add((async () => {
      const view = new Uint8Array(buffer, 0, BLOCK);
      await input.readAt(block * BLOCK, view);
      work.add((async () => {
        try {
          if (digest) await digest.digest(view);
          await store.write(newBlobUid(), view);
        } finally {
          pool.give(buffer);
        }
        if (++written % BATCH === 0) barriers = barriers.then(() => store.flush());
      })());
    })());
  }
  await reads.settle();
  await work.settle();
  barriers = barriers.then(() => store.flush());
  await barriers;
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const kernelThreads = kernelThreadSecondsSince(kernelBefore);
  input.close();
  pool.release();
  await store.close();
  return { wall, cpu: (cpu.user + cpu.system) / 1e6, kernelThreads };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  Deno.mkdirSync(dir, { recursive: true });
  const source = join(dir, "random.img");
  makeSource(source);
  await new Deno.Command("cat", { args: [source], stdout: "null" }).output();
  const samples = new Map<string, Sample[]>(VARIANTS.map((variant) => [variant.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) samples.get(variant.name)!.push(await pass(source, variant));
  }
  await Deno.remove(join(dir, "store"), { recursive: true }).catch(() => {});
  const fs = new TextDecoder().decode(
    (await new Deno.Command("df", { args: ["-T", dir], stdout: "piped" }).output()).stdout,
  ).split("\n")[1]?.split(/\s+/)[1];
  console.log(
    `${sizeMiB} MiB in 4 MiB blobs on ${fs} (${dir}), barrier every ${BATCH} blobs, ` +
      `${digest ? "hashed with OpenSSL sha512" : "not hashed"}; medians of ${rounds} interleaved rounds\n`,
  );
  console.log("| variant | wall s | MiB/s | process CPU s | kernel threads CPU s |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, runs] of samples) {
    const wall = median(runs.map((run) => run.wall));
    const cpu = median(runs.map((run) => run.cpu));
    const kernel = median(runs.map((run) => run.kernelThreads));
    console.log(
      `| ${name} | ${wall.toFixed(2)} | ${(sizeMiB / wall).toFixed(0)} | ${cpu.toFixed(2)} | ${kernel.toFixed(2)} |`,
    );
  }
}

await main();
