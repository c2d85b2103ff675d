/**
 * The `rbd://` part of scripts/bench: backy2's backup throughput from an RBD snapshot next to
 * `rbd export IMG@SNAP - | sha512sum` over the same snapshot in the same run (both read the whole image and
 * hash it with sha512). Runs against `BACKY2_CEPH_CONF`, or against a cluster it starts and stops itself
 * (scripts/ceph-cluster) when bench is called with `--ceph`.
 */
import { join } from "node:path";

export interface RbdBenchRow {
  job: string;
  seconds: number;
  mibPerSec: number;
  rssMiB: number;
  note?: string;
}

export interface RbdBenchOptions {
  root: string;
  /** The random file the other jobs use; imported as the image. */
  sourceFile: string;
  sizeMiB: number;
  /** A bench config (catalog and store) to which the [io_rbd] section is appended. */
  config: string;
  /** Runs backy2 as bench.ts does (wall seconds and peak RSS). */
  timed: (args: string[]) => Promise<{ seconds: number; rssMiB: number }>;
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Starts a cluster unless BACKY2_CEPH_CONF names one; returns its conf and how to stop it. */
async function cluster(root: string): Promise<{ conf: string; stop: () => Promise<void> }> {
  const given = Deno.env.get("BACKY2_CEPH_CONF");
  if (given) return { conf: given, stop: () => Promise.resolve() };
  const dir = `/tmp/b2bench-${Deno.pid}`;
  const script = join(root, "scripts/ceph-cluster");
  await run(script, ["start", dir]);
  return { conf: join(dir, "ceph.conf"), stop: () => run(script, ["stop", dir]) };
}

/** Imports the source file as an image, snapshots it, and measures both readers of that snapshot. */
export async function rbdBench(options: RbdBenchOptions): Promise<RbdBenchRow[]> {
  const { conf, stop } = await cluster(options.root);
  const image = `rbd/bench${Date.now().toString(36)}`;
  try {
    await run("rbd", ["-c", conf, "import", "--no-progress", options.sourceFile, image]);
    await run("rbd", ["-c", conf, "snap", "create", "--no-progress", `${image}@bench`]);
    const rbdSection = `\n[io_rbd]\nceph_conffile: ${conf}\nsimultaneous_reads: 8\n` +
      "new_image_features: RBD_FEATURE_LAYERING\n";
    await Deno.writeTextFile(options.config, rbdSection, { append: true });
    const started = performance.now();
    await run("bash", ["-c", `set -o pipefail; rbd -c '${conf}' export '${image}@bench' - | sha512sum >/dev/null`]);
    const exportSeconds = (performance.now() - started) / 1000;
    const backup = await options.timed(["-c", options.config, "backup", `rbd://${image}@bench`, "rbd-bench"]);
    const exportRate = options.sizeMiB / exportSeconds;
    const backupRate = options.sizeMiB / backup.seconds;
    return [
      { job: "rbd export IMG@SNAP - \\| sha512sum", seconds: exportSeconds, mibPerSec: exportRate, rssMiB: 0 },
      {
        job: `backup rbd://IMG@SNAP, ${options.sizeMiB} MiB`,
        ...backup,
        mibPerSec: backupRate,
        note: `${((backupRate / exportRate) * 100).toFixed(0)} % of rbd export \\| sha512sum`,
      },
    ];
  } finally {
    await run("rbd", ["-c", conf, "snap", "purge", "--no-progress", image]).catch(() => {});
    await run("rbd", ["-c", conf, "rm", "--no-progress", image]).catch(() => {});
    await stop();
  }
}
