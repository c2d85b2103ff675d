/**
 * scripts/bench's write-bound jobs: the first backup of the random file and its restore, each measured in
 * rounds interleaved with the machine's limits (node:crypto hash rate, plain and durable `dd`), so that a slow
 * phase of the disk shows in the round it hit instead of being averaged away. A round: the limits, then per
 * checkout a first backup into a fresh store, a restore of it right after, and after an idle pause the same
 * restore again ("alone"). With a baseline checkout (`--baseline DIR`, e.g. the main worktree) both run in
 * every round, the one going first alternating, for paired before/after numbers.
 *
 * The targets: a first backup at ≥ 0.80 of min(hash rate, durable dd), a restore at ≥ 0.80 of min(hash rate,
 * plain dd), both as the median of the rounds against the same run's limits (each the best of the rounds: a
 * limit measured low in a busy moment would flatter the job), and peak RSS ≤ 200 MiB. The restore is also
 * shown against dd from disk to disk: it reads blobs that are not in the page cache (a backup writes them past
 * it) while it writes the target, and both share the disk, which plain dd (from and into the page cache) does not
 * measure.
 */
import { join } from "node:path";
import { identityNote, sameContent, type Timed, timedCommand } from "./bench_run.ts";
import { ddRate, nodeHashRate } from "./bench_limits.ts";

const TARGET_SHARE = 0.8;
const RSS_LIMIT_MIB = 200;

export interface Checkout {
  label: string;
  /** The repository whose main.ts runs. */
  root: string;
}

export interface WriteBenchOptions {
  source: string;
  sizeMiB: number;
  /** Where restored files go. */
  dir: string;
  /** The store's filesystem (the `dd` copies go there too). */
  storeDir: string;
  checkouts: Checkout[];
  rounds: number;
  /** Seconds without IO before the "alone" restore. */
  idleSeconds: number;
  /** Writes a config for a store named `name` in `storeDir`, returns its path. */
  writeConfig: (name: string) => string;
}

interface JobRates {
  backup: number;
  restoreAfter: number;
  restoreAlone: number;
  rssMiB: number;
  /** CPU seconds (user and system) of the backup and of the restore right after it: less noisy than MiB/s. */
  backupCpu: number;
  restoreCpu: number;
}

interface Round {
  hash: number;
  dd: number;
  ddFsync: number;
  /** dd from the disk to the disk: what a restore of blobs that are not cached can reach at most. */
  ddDisk: number;
  jobs: Map<string, JobRates>;
}

function backy(checkout: Checkout, args: string[]): Promise<Timed> {
  const deno = join(checkout.root, "node_modules/.bin/deno");
  return timedCommand(deno, ["run", "--allow-all", "--quiet", "--no-prompt", join(checkout.root, "main.ts"), ...args]);
}

const pause = (seconds: number) => new Promise((done) => setTimeout(done, seconds * 1000));

async function sync(): Promise<void> {
  await new Deno.Command("sync").output();
}

/** First backup into a fresh store, restore right after, restore again after the idle pause. */
async function jobs(options: WriteBenchOptions, checkout: Checkout, verify: boolean): Promise<JobRates> {
  const { sizeMiB, source } = options;
  const name = `write-${checkout.label}`;
  await Deno.remove(join(options.storeDir, name), { recursive: true }).catch(() => {});
  const config = options.writeConfig(name);
  await backy(checkout, ["-c", config, "initdb"]);
  await sync();
  const backup = await backy(checkout, ["-c", config, "-m", "backup", `file://${source}`, "bench"]);
  const uid = backup.stdout.trim().split("\n")[0];
  const restore = async (): Promise<Timed> => {
    const target = join(options.dir, "restored.img");
    await Deno.remove(target).catch(() => {});
    const restored = await backy(checkout, ["-c", config, "restore", uid, `file://${target}`]);
    if (verify && !await sameContent(source, target)) {
      throw new Error(`${checkout.label}: restore ${identityNote(false)}`);
    }
    await Deno.remove(target).catch(() => {});
    return restored;
  };
  const after = await restore();
  await sync();
  await pause(options.idleSeconds);
  const alone = await restore();
  await Deno.remove(join(options.storeDir, name), { recursive: true }).catch(() => {});
  return {
    backup: sizeMiB / backup.seconds,
    restoreAfter: sizeMiB / after.seconds,
    restoreAlone: sizeMiB / alone.seconds,
    rssMiB: Math.max(backup.rssMiB, after.rssMiB, alone.rssMiB),
    backupCpu: backup.cpuSeconds,
    restoreCpu: after.cpuSeconds,
  };
}

async function round(options: WriteBenchOptions, index: number): Promise<Round> {
  const { source, storeDir, sizeMiB } = options;
  const hash = await nodeHashRate(source);
  await sync();
  const dd = await ddRate(source, storeDir, sizeMiB, "plain") ?? NaN;
  await sync();
  const ddFsync = await ddRate(source, storeDir, sizeMiB, "durable") ?? NaN;
  const ddDisk = await ddRate(source, storeDir, sizeMiB, "disk") ?? NaN;
  const order = index % 2 === 0 ? options.checkouts : [...options.checkouts].reverse();
  const results = new Map<string, JobRates>();
  for (const checkout of order) results.set(checkout.label, await jobs(options, checkout, index === 0));
  return { hash, dd, ddFsync, ddDisk, jobs: results };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const f0 = (value: number) => Number.isFinite(value) ? value.toFixed(0) : "–";
const f2 = (value: number) => value.toFixed(2);

/** Runs the rounds and prints the per-round table and the medians with their ratios and targets. */
export async function writeBench(options: WriteBenchOptions): Promise<void> {
  const rounds: Round[] = [];
  for (let i = 0; i < options.rounds; i++) rounds.push(await round(options, i));

  console.log(
    `Write-bound jobs: ${options.sizeMiB} MiB random file, ${options.rounds} rounds; MiB/s and the ratio to the ` +
      "round's limits: backup to min(hash, dd fsync), restore to min(hash, dd) and (disk) to min(hash, dd disk)\n",
  );
  console.log(
    "| round | checkout | hash | dd | dd fsync | dd disk | first backup | ratio | restore after backup | ratio | " +
      "disk | restore alone | ratio | disk | peak RSS MiB | CPU s backup, restore |",
  );
  console.log(`|---|---|${"---:|".repeat(14)}`);
  rounds.forEach((r, i) => {
    for (const [label, job] of r.jobs) {
      const [durable, plain, disk] = [r.ddFsync, r.dd, r.ddDisk].map((copy) => Math.min(r.hash, copy));
      const cells = [
        i + 1,
        label,
        ...[r.hash, r.dd, r.ddFsync, r.ddDisk, job.backup].map(f0),
        f2(job.backup / durable),
        f0(job.restoreAfter),
        f2(job.restoreAfter / plain),
        f2(job.restoreAfter / disk),
        f0(job.restoreAlone),
        f2(job.restoreAlone / plain),
        f2(job.restoreAlone / disk),
        f0(job.rssMiB),
        `${f2(job.backupCpu)}, ${f2(job.restoreCpu)}`,
      ];
      console.log(`| ${cells.join(" | ")} |`);
    }
  });

  const best = (pick: (r: Round) => number) => Math.max(...rounds.map(pick));
  const [hash, dd, ddFsync, ddDisk] = [
    best((r) => r.hash),
    best((r) => r.dd),
    best((r) => r.ddFsync),
    best((r) => r.ddDisk),
  ];
  console.log(
    `\nLimits of this run, each the best of its ${rounds.length} rounds: hash ${f0(hash)} MiB/s, dd ${f0(dd)}, ` +
      `dd conv=fsync ${f0(ddFsync)}, dd from disk to disk ${f0(ddDisk)}\n`,
  );
  console.log("| checkout | job | median MiB/s | limit | ratio | target |");
  console.log("|---|---|---:|---|---:|---|");
  for (const { label } of options.checkouts) {
    const of = (pick: (job: JobRates) => number) => median(rounds.map((r) => pick(r.jobs.get(label)!)));
    const rss = Math.max(...rounds.map((r) => r.jobs.get(label)!.rssMiB));
    const rows: [string, number, string, number][] = [
      ["first backup", of((j) => j.backup), "min(hash, dd fsync)", Math.min(hash, ddFsync)],
      ["restore right after the backup", of((j) => j.restoreAfter), "min(hash, dd)", Math.min(hash, dd)],
      ["", of((j) => j.restoreAfter), "min(hash, dd disk)", Math.min(hash, ddDisk)],
      ["restore alone", of((j) => j.restoreAlone), "min(hash, dd)", Math.min(hash, dd)],
      ["", of((j) => j.restoreAlone), "min(hash, dd disk)", Math.min(hash, ddDisk)],
    ];
    for (const [job, rate, limitName, limit] of rows) {
      const ratio = rate / limit;
      const verdict = ratio >= TARGET_SHARE ? "met" : "MISSED";
      console.log(
        `| ${label} | ${job} | ${job ? f0(rate) : ""} | ${limitName} | ${f2(ratio)} | ≥ ${TARGET_SHARE}: ${verdict} |`,
      );
    }
    console.log(
      `| ${label} | peak RSS | ${f0(rss)} MiB | | | ≤ ${RSS_LIMIT_MIB} MiB: ${
        rss <= RSS_LIMIT_MIB ? "met" : "MISSED"
      } |`,
    );
  }
  console.log("");
}
