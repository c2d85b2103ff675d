/**
 * The measurements every part of scripts/bench shares: a command's wall time and peak RSS under GNU time, the disk
 * space a store takes (du), and a byte-for-byte comparison of a restored file with its source.
 */
import { Buffer } from "node:buffer";
import { RawFile } from "../src/platform/posix_io.ts";

export const MiB = 1048576;

export interface Timed {
  seconds: number;
  rssMiB: number;
  /** User and system CPU seconds of the command and its children. */
  cpuSeconds: number;
  stdout: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs a command under `/usr/bin/time` and fails with its stderr when it fails. */
export async function timedCommand(command: string, args: string[], options: RunOptions = {}): Promise<Timed> {
  const started = performance.now();
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "RSS_KB=%M CPU=%U+%S", command, ...args],
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed:\n${stderr}`);
  const rssMiB = Number(/RSS_KB=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
  const cpu = /CPU=([\d.]+)\+([\d.]+)/.exec(stderr);
  const cpuSeconds = cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN;
  return { seconds, rssMiB, cpuSeconds, stdout: new TextDecoder().decode(output.stdout) };
}

/** Runs a command for its side effect; fails with its stderr. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<void> {
  const output = await new Deno.Command(command, { args, ...options, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`);
  }
}

/** The disk space `du` counts for a directory (allocated blocks), in MiB. */
export async function duMiB(path: string): Promise<number> {
  const output = await new Deno.Command("du", { args: ["-sk", path], stdout: "piped", stderr: "null" }).output();
  if (!output.success) return 0;
  return Number(new TextDecoder().decode(output.stdout).split(/\s/)[0]) / 1024;
}

/** Compares two files in 16 MiB pieces. */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [left, right] = [RawFile.open(a, "read"), RawFile.open(b, "read")];
  const x = new Uint8Array(16 * MiB);
  const y = new Uint8Array(16 * MiB);
  try {
    for (let offset = 0;; offset += x.length) {
      const [n, m] = await Promise.all([left.readAt(offset, x), right.readAt(offset, y)]);
      if (n !== m) return false;
      if (n === 0) return true;
      if (!Buffer.from(x.buffer, 0, n).equals(Buffer.from(y.buffer, 0, n))) return false;
    }
  } finally {
    left.close();
    right.close();
  }
}

/** The note a restore row carries after its output was compared with the source. */
export function identityNote(identical: boolean): string {
  return identical ? "byte-identical to the source" : "DIFFERS FROM THE SOURCE";
}

/** CPU ticks of each of the kernel's own threads (children of kthreadd: writeback, journal, block IO workers). */
export function kernelThreadTicks(): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[1] === "2") ticks.set(entry.name, Number(fields[11]) + Number(fields[12]));
    } catch { /* ended meanwhile */ }
  }
  return ticks;
}

/**
 * CPU seconds the kernel's threads used since `before` (system-wide: other processes' IO counts too; a
 * thread that ended meanwhile is left out).
 */
export function kernelThreadSecondsSince(before: Map<string, number>): number {
  let ticks = 0;
  for (const [pid, now] of kernelThreadTicks()) ticks += now - (before.get(pid) ?? 0);
  return ticks / 100;
}
