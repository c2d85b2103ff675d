/**
 * scripts/profile: where the CPU and wall time of a first backup or a restore of a random file go (see the
 * README). The job runs three times as a separate backy2 process, each time under one tool:
 *
 * 1. `perf stat` and the kernel threads' CPU from /proc (writeback, journal and block workers run outside the
 *    process but on the same two cores): wall, CPU seconds and how many cores were busy.
 * 2. `perf record` (cpu-clock samples of every thread of the process): CPU seconds by kind of work.
 * 3. `strace -T` of the syscalls that move or persist data: time spent inside them, summed over the threads,
 *    and the tail (from the last data write to the exit) that nothing overlaps.
 *
 * Each tool slows the job a little, and the machine may be shared: compare shares, not seconds across runs.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { randomFillSync } from "node:crypto";
import { kernelThreadSecondsSince, kernelThreadTicks } from "./bench_run.ts";

const MiB = 1048576;
const here = resolve(import.meta.dirname!, "..");
const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    dir: { type: "string" },
    // Which checkout's main.ts runs (another worktree, to profile the code before a change).
    root: { type: "string" },
  },
});
const [job, sizeText = "2G"] = positionals;
if (job !== "backup" && job !== "restore") {
  console.error("usage: scripts/profile backup|restore [SIZE (e.g. 2G, 512M)] [--dir DIR] [--root CHECKOUT]");
  Deno.exit(2);
}
const sizeMiB = parseSize(sizeText);
const root = resolve(values.root ?? here);
const dir = resolve(values.dir ?? join(here, ".bench", "profile"));
const deno = join(here, "node_modules/.bin/deno");

function parseSize(text: string): number {
  const match = /^(\d+)([MG])?$/i.exec(text);
  if (!match) throw new Error(`not a size: ${text} (e.g. 2G or 512M)`);
  return Number(match[1]) * (match[2]?.toUpperCase() === "G" ? 1024 : 1);
}

function backy(...args: string[]): string[] {
  return [
    deno,
    "run",
    "--allow-all",
    "--quiet",
    "--no-prompt",
    join(root, "main.ts"),
    "-c",
    join(dir, "p.cfg"),
    ...args,
  ];
}

async function run(argv: string[]): Promise<{ stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  const output = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const seconds = (performance.now() - started) / 1000;
  const [stdout, stderr] = [output.stdout, output.stderr].map((bytes) => new TextDecoder().decode(bytes));
  if (!output.success) throw new Error(`${argv.join(" ")} failed:\n${stderr}`);
  return { stdout, stderr, seconds };
}

function makeSource(path: string): void {
  try {
    if (Deno.statSync(path).size === sizeMiB * MiB) return;
  } catch { /* create it */ }
  using file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(16 * MiB);
  for (let done = 0; done < sizeMiB; done += 16) {
    randomFillSync(chunk);
    file.writeSync(chunk.subarray(0, Math.min(16, sizeMiB - done) * MiB));
  }
}

/** A fresh store and catalog; the same settings as scripts/bench's. */
async function freshStore(): Promise<void> {
  const store = join(dir, "store");
  await Deno.remove(store, { recursive: true }).catch(() => {});
  Deno.mkdirSync(store, { recursive: true });
  Deno.writeTextFileSync(
    join(dir, "p.cfg"),
    `[DEFAULTS]\nlogfile: ${dir}/backy.log\nblock_size: 4194304\nhash_function: sha512\nlock_dir: ${store}\n` +
      `encryption_version: 0\n[MetaBackend]\ntype: backy2.meta_backends.sql\nengine: sqlite:///${store}/backy.sqlite\n` +
      `[DataBackend]\ntype: backy2.data_backends.file\npath: ${store}/data\nsimultaneous_writes: 5\n` +
      `simultaneous_reads: 5\n[io_file]\nsimultaneous_reads: 5\nsimultaneous_writes: 5\n`,
  );
  await run(backy("initdb"));
}

const source = join(dir, "random.img");
const target = join(dir, "restored.img");
let versionUid = "";

/** Before each measured run: a fresh store (backup) or the target removed (restore), data in the page cache. */
async function prepare(): Promise<void> {
  await Deno.remove(target).catch(() => {});
  if (job === "backup") await freshStore();
  await new Deno.Command("cat", { args: [source], stdout: "null" }).output(); // into the page cache
  await run(["sync"]);
}

function jobArgs(): string[] {
  return job === "backup" ? ["backup", `file://${source}`, "profile"] : ["restore", versionUid, `file://${target}`];
}

interface Stat {
  wall: number;
  user: number;
  sys: number;
  kernelThreads: number;
}

async function statRun(): Promise<Stat> {
  await prepare();
  const before = kernelThreadTicks();
  const { stderr, seconds } = await run(["perf", "stat", "-e", "task-clock", ...backy(...jobArgs())]);
  const kernelThreads = kernelThreadSecondsSince(before);
  const user = Number(/([\d.]+) seconds user/.exec(stderr)?.[1] ?? NaN);
  const sys = Number(/([\d.]+) seconds sys/.exec(stderr)?.[1] ?? NaN);
  return { wall: seconds, user, sys, kernelThreads };
}

/** Kinds of work by shared object and symbol; the first that matches counts. */
const KINDS: [string, (dso: string, symbol: string) => boolean][] = [
  ["hashing (OpenSSL)", (dso) => dso.startsWith("libcrypto")],
  ["compression probe (zstd)", (dso) => dso.startsWith("libzstd")],
  [
    "copying in the kernel (read/write)",
    (dso, sym) => dso.includes("kernel") && /copy_|_copy|memcpy|memmove/.test(sym),
  ],
  ["copying in user space", (dso, sym) => dso.startsWith("libc") && /memmove|memcpy/.test(sym)],
  [
    "kernel: page cache, memory",
    (dso, sym) => dso.includes("kernel") && /folio|page|lru|slab|alloc|mem_cgroup|pte/.test(sym),
  ],
  ["kernel: other (fs, block, scheduler)", (dso) => dso.includes("kernel")],
  ["runtime and JavaScript (deno, V8)", () => true],
];

async function recordRun(): Promise<Map<string, number>> {
  await prepare();
  const data = join(dir, "perf.data");
  await run(["perf", "record", "-F", "999", "-o", data, "--", ...backy(...jobArgs())]);
  const { stdout } = await run([
    "perf",
    "report",
    "-i",
    data,
    "--no-children",
    "--stdio",
    "--sort",
    "dso,sym",
    "--percent-limit",
    "0",
    "-F",
    "period,dso,sym",
    "--field-separator",
    "\t",
  ]);
  const byKind = new Map<string, number>(KINDS.map(([kind]) => [kind, 0]));
  for (const line of stdout.split("\n")) {
    if (line.startsWith("#") || !line.trim()) continue;
    const [period, dso = "", symbol = ""] = line.split("\t").map((cell) => cell.trim());
    const kind = KINDS.find(([, test]) => test(dso, symbol))![0];
    byKind.set(kind, byKind.get(kind)! + Number(period) / 1e9); // cpu-clock periods are nanoseconds
  }
  await Deno.remove(data).catch(() => {});
  return byKind;
}

interface Calls {
  byKind: Map<string, { count: number; seconds: number }>;
  /** From the last large write to the process's exit. */
  tail: number;
}

/** Which syscall on which file, as strace -y names it. */
function callKind(name: string, path: string): string {
  const store = path.includes(`${dir}/store/data`) || path.endsWith("/data") || /\/data\/[0-9a-f]{2}/.test(path);
  const catalog = /\.sqlite/.test(path);
  if (name === "syncfs") return "syncfs (store's filesystem)";
  const file = catalog
    ? "catalog"
    : store
    ? "blob files"
    : path === source
    ? "source"
    : path === target
    ? "target"
    : "";
  return `${name} (${file || "other files"})`;
}

async function traceRun(): Promise<Calls> {
  await prepare();
  const log = join(dir, "strace.txt");
  const traced = "pread64,pwrite64,syncfs,fsync,fdatasync,rename,openat";
  await run([
    "strace",
    "-f",
    "--seccomp-bpf",
    "-y",
    "-ttt",
    "-T",
    "-e",
    `trace=${traced}`,
    "-o",
    log,
    ...backy(
      ...jobArgs(),
    ),
  ]);
  const byKind = new Map<string, { count: number; seconds: number }>();
  const started = new Map<string, { name: string; path: string }>();
  let lastWrite = 0;
  let exit = 0;
  for (const line of Deno.readTextFileSync(log).split("\n")) {
    const stamp = /^(\d+) (\d+\.\d+) /.exec(line);
    if (!stamp) continue;
    const [, pid, time] = stamp;
    if (line.includes("+++ exited")) exit = Math.max(exit, Number(time));
    const call = /^\d+ [\d.]+ (\w+)\((\d+)<([^>]*)>/.exec(line);
    if (call && line.endsWith("<unfinished ...>")) started.set(pid, { name: call[1], path: call[3] });
    let name: string, path: string;
    if (call) [name, path] = [call[1], call[3]];
    else {
      const resumed = /<\.\.\. (\w+) resumed>/.exec(line);
      const open = started.get(pid);
      if (!resumed || !open) continue;
      [name, path] = [open.name, open.path];
      started.delete(pid);
    }
    const duration = /<([\d.]+)>$/.exec(line);
    if (!duration) continue;
    const large = /= (\d+) <[\d.]+>$/.exec(line);
    if (name === "pwrite64" && large && Number(large[1]) >= MiB && !/\.sqlite/.test(path)) {
      lastWrite = Math.max(lastWrite, Number(time) + Number(duration[1]));
    }
    const kind = callKind(name, path);
    const entry = byKind.get(kind) ?? { count: 0, seconds: 0 };
    entry.count++;
    entry.seconds += Number(duration[1]);
    byKind.set(kind, entry);
  }
  await Deno.remove(log).catch(() => {});
  return { byKind, tail: lastWrite ? exit - lastWrite : NaN };
}

async function main(): Promise<void> {
  for (const tool of ["perf", "strace"]) {
    if (!(await new Deno.Command("which", { args: [tool], stdout: "null" }).output()).success) {
      throw new Error(`${tool} is missing (scripts/profile installs it with apt-get)`);
    }
  }
  Deno.mkdirSync(dir, { recursive: true });
  makeSource(source);
  if (job === "restore") {
    await freshStore();
    versionUid = (await run(backy("-m", "backup", `file://${source}`, "profile"))).stdout.trim().split("\n")[0];
  }
  const stat = await statRun();
  const kinds = await recordRun();
  const calls = await traceRun();
  await Deno.remove(target).catch(() => {});

  const cpu = stat.user + stat.sys;
  console.log(`${job} of a ${sizeMiB} MiB random file (${root}); ${navigator.hardwareConcurrency} cores\n`);
  console.log(
    `wall ${stat.wall.toFixed(2)} s (${(sizeMiB / stat.wall).toFixed(0)} MiB/s); process CPU ${cpu.toFixed(2)} s ` +
      `(user ${stat.user.toFixed(2)}, sys ${stat.sys.toFixed(2)}) = ${(cpu / stat.wall).toFixed(2)} cores busy; ` +
      `kernel threads ${stat.kernelThreads.toFixed(2)} s (system-wide: includes other processes' IO)\n`,
  );
  const sampled = [...kinds.values()].reduce((a, b) => a + b, 0);
  console.log("| CPU of the process by kind (perf record) | CPU-s | share |");
  console.log("|---|---:|---:|");
  for (const [kind, seconds] of kinds) {
    if (seconds > 0) console.log(`| ${kind} | ${seconds.toFixed(2)} | ${(seconds / sampled * 100).toFixed(0)} % |`);
  }
  console.log("\n| time inside syscalls (strace -T, summed over threads) | calls | seconds |");
  console.log("|---|---:|---:|");
  const rows = [...calls.byKind].filter(([kind]) => kind !== "openat" && kind !== "rename");
  for (const [kind, { count, seconds }] of rows.sort((a, b) => b[1].seconds - a[1].seconds)) {
    console.log(`| ${kind} | ${count} | ${seconds.toFixed(2)} |`);
  }
  console.log(`| tail: from the last data write to the exit | | ${calls.tail.toFixed(2)} |`);
}

await main();
