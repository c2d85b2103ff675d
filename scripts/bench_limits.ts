/**
 * The machine's limits that scripts/bench compares jobs with, measured in the same run: the 2-worker
 * `node:crypto` sha512 rate over the data (the baseline) and `dd` of the data onto the store's filesystem.
 */
import { join } from "node:path";
import { MiB } from "./bench_run.ts";

/** sha512 of the file in 4 MiB blocks on two `node:crypto` workers, in this process; MiB/s. */
export async function nodeHashRate(path: string): Promise<number> {
  const workerCode = `
    import { createHash } from "node:crypto";
    self.onmessage = (e) => { const h = createHash("sha512").update(new Uint8Array(e.data)).digest("hex");
      self.postMessage(e.data, [e.data]); };`;
  const url = URL.createObjectURL(new Blob([workerCode], { type: "application/javascript" }));
  const workers = [0, 1].map(() => new Worker(url, { type: "module" }));
  const file = await Deno.open(path);
  const started = performance.now();
  let total = 0;
  await Promise.all(workers.map(async (worker) => {
    let buffer = new ArrayBuffer(4 * MiB);
    while (true) {
      const view = new Uint8Array(buffer);
      const n = await file.read(view);
      if (n === null || n === 0) break;
      total += n;
      buffer = await new Promise<ArrayBuffer>((done) => {
        worker.onmessage = (e) => done(e.data);
        worker.postMessage(buffer, [buffer]);
      });
    }
  }));
  const rate = total / MiB / ((performance.now() - started) / 1000);
  workers.forEach((w) => w.terminate());
  file.close();
  URL.revokeObjectURL(url);
  return rate;
}

/**
 * How `dd` copies `source` (`mib` MiB) to a scratch file in `dir`; MiB/s, or null if dd failed. `plain`: from the
 * page cache into it; `durable`: the same with `conv=fsync`; `disk`: from the disk to the disk (direct IO both
 * ways, `conv=fsync`), the copy a restore makes of blobs that are not cached: both directions share the disk.
 */
export async function ddRate(
  source: string,
  dir: string,
  mib: number,
  kind: "plain" | "durable" | "disk",
): Promise<number | null> {
  const copy = join(dir, "limit.tmp");
  const started = performance.now();
  const flags = { plain: [], durable: ["conv=fsync"], disk: ["iflag=direct", "oflag=direct", "conv=fsync"] }[kind];
  const args = [`if=${source}`, `of=${copy}`, "bs=4M", ...flags];
  const output = await new Deno.Command("dd", { args, stderr: "null" }).output();
  const seconds = (performance.now() - started) / 1000;
  await Deno.remove(copy).catch(() => {});
  return output.success ? mib / seconds : null;
}
