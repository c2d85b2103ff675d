/**
 * The mount part of scripts/bench: sequential reads of the benchmark's version through `backy2 fuse` (dd of
 * its `data` file, 4 MiB reads) and through `backy2 nbd` (nbdcopy to null:), next to the restore rate of the
 * same run (target: at least 50 % of it). Each server runs as its own process; its peak RSS is read from
 * /proc before it is stopped with SIGTERM.
 */
import { join } from "node:path";

export interface MountBenchRow {
  job: string;
  seconds: number;
  mibPerSec: number;
  rssMiB: number;
  note?: string;
}

export interface MountBenchOptions {
  root: string;
  /** The bench config whose catalog holds `uid`. */
  config: string;
  uid: string;
  sizeMiB: number;
  /** MiB/s of the restore of the same version in this run. */
  restoreMiBs: number;
  /** A scratch directory (the mountpoint is made inside it). */
  dir: string;
}

/** A backy2 server started with `args`, once it has printed a line matching `ready`. */
async function startServer(root: string, args: string[], ready: RegExp) {
  const child = new Deno.Command(join(root, "node_modules/.bin/deno"), {
    args: ["run", "--allow-all", "--quiet", "--no-prompt", join(root, "main.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + 30_000;
  let match: RegExpExecArray | null = null;
  while (!(match = ready.exec(output))) {
    if (Date.now() > deadline) throw new Error(`backy2 ${args.join(" ")} did not get ready:\n${output}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`backy2 ${args.join(" ")} ended:\n${output}`);
    output += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  child.stderr.cancel().catch(() => {});
  const stop = async () => {
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(() => "");
    child.kill("SIGTERM");
    await child.status;
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  };
  return { match, stop };
}

async function timedRun(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  return (performance.now() - started) / 1000;
}

function row(job: string, seconds: number, rssMiB: number, options: MountBenchOptions): MountBenchRow {
  const mibPerSec = options.sizeMiB / seconds;
  return {
    job,
    seconds,
    mibPerSec,
    rssMiB,
    note: `${(mibPerSec / options.restoreMiBs * 100).toFixed(0)} % of restore`,
  };
}

/** Starts a server, times `read` against it, stops it; one row. */
async function measure(
  options: MountBenchOptions,
  job: string,
  server: { args: string[]; ready: RegExp },
  read: (match: RegExpExecArray) => Promise<number>,
): Promise<MountBenchRow> {
  const started = await startServer(options.root, ["-c", options.config, ...server.args], server.ready);
  let seconds: number;
  try {
    seconds = await read(started.match);
  } catch (error) {
    await started.stop();
    throw error;
  }
  return row(job, seconds, await started.stop(), options);
}

export async function mountBench(options: MountBenchOptions): Promise<MountBenchRow[]> {
  const mnt = join(options.dir, "mnt");
  Deno.mkdirSync(mnt, { recursive: true });
  const data = join(mnt, "by_version_uid", options.uid, "data");
  return [
    await measure(
      options,
      "sequential read through FUSE (dd bs=4M)",
      { args: ["fuse", mnt], ready: /Mounted \d+ versions/ },
      () => timedRun("dd", [`if=${data}`, "of=/dev/null", "bs=4M"]),
    ),
    await measure(
      options,
      "sequential read through NBD (nbdcopy to null:)",
      { args: ["nbd", "--bind", "127.0.0.1:0"], ready: /at (\S+)UID / },
      (match) => timedRun("nbdcopy", [match[1] + options.uid, "null:"]),
    ),
  ];
}
