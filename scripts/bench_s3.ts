/**
 * The `--s3` part of scripts/bench: backy2's backup and restore rates against the Ceph RADOS Gateway, next to
 * plain `curl` PUT and GET of the same bytes in 4 MiB objects in the same run (8 transfers at once, as
 * backy2's `simultaneous_writes`/`simultaneous_reads` here). Uses the gateway that BACKY2_S3_ENDPOINT,
 * BACKY2_S3_KEY and BACKY2_S3_SECRET name, or starts a cluster with `scripts/ceph-cluster` and stops it.
 */
import { join } from "node:path";

export interface S3BenchRow {
  job: string;
  seconds: number;
  mibPerSec: number;
  rssMiB: number;
  note?: string;
}

export interface S3BenchOptions {
  root: string;
  /** The random file the other jobs use; its first `sizeMiB` are the S3 data set. */
  sourceFile: string;
  sizeMiB: number;
  /** Where the bench keeps its files (config, pieces, restore target). */
  dir: string;
  /** Runs backy2 as bench.ts does (wall seconds and peak RSS). */
  timed: (args: string[]) => Promise<{ seconds: number; rssMiB: number }>;
}

interface Gateway {
  endpoint: string;
  key: string;
  secret: string;
  cephConf: string | undefined;
  stop: () => Promise<void>;
}

const MiB = 1048576;
const PARALLEL = 8;

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`${command} ${args.slice(0, 12).join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** The gateway from the environment, or one started for the bench. */
async function gateway(root: string): Promise<Gateway> {
  const env = Deno.env.toObject();
  if (env.BACKY2_S3_ENDPOINT && env.BACKY2_S3_KEY && env.BACKY2_S3_SECRET) {
    const { BACKY2_S3_ENDPOINT: endpoint, BACKY2_S3_KEY: key, BACKY2_S3_SECRET: secret } = env;
    return { endpoint, key, secret, cephConf: env.BACKY2_CEPH_CONF, stop: () => Promise.resolve() };
  }
  const dir = `/tmp/b2bench-s3-${Deno.pid}`;
  const script = join(root, "scripts/ceph-cluster");
  await run(script, ["start", dir]);
  const vars = Object.fromEntries(
    [...(await Deno.readTextFile(join(dir, "env"))).matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]),
  );
  return {
    endpoint: vars.BACKY2_S3_ENDPOINT,
    key: vars.BACKY2_S3_KEY,
    secret: vars.BACKY2_S3_SECRET,
    cephConf: vars.BACKY2_CEPH_CONF,
    stop: () => run(script, ["stop", dir]),
  };
}

/** curl with SigV4 for the gateway, `--parallel`, on `transfers` (pairs of options and URLs). */
async function curl(gw: Gateway, transfers: string[]): Promise<number> {
  const started = performance.now();
  await run("curl", [
    "-sSf",
    "--parallel",
    "--parallel-max",
    String(PARALLEL),
    "--user",
    `${gw.key}:${gw.secret}`,
    "--aws-sigv4",
    "aws:amz:us-east-1:s3",
    "-H",
    "x-amz-content-sha256: UNSIGNED-PAYLOAD",
    ...transfers,
  ]);
  return (performance.now() - started) / 1000;
}

function config(options: S3BenchOptions, gw: Gateway, bucket: string): string {
  const path = join(options.dir, "s3.cfg");
  // A fresh catalog: one that remembers blobs of an earlier run's bucket would deduplicate onto them.
  const state = join(options.dir, "s3-state");
  try {
    Deno.removeSync(state, { recursive: true });
  } catch {
    // none yet
  }
  Deno.mkdirSync(state, { recursive: true });
  Deno.writeTextFileSync(
    path,
    `[DEFAULTS]
logfile: ${options.dir}/backy.log
block_size: 4194304
hash_function: sha512
lock_dir: ${state}
encryption_version: 0
[MetaBackend]
type: backy2.meta_backends.sql
engine: sqlite:///${state}/backy.sqlite
[DataBackend]
type: backy2.data_backends.s3
endpoint_url: ${gw.endpoint}
bucket_name: ${bucket}
aws_access_key_id: ${gw.key}
aws_secret_access_key: ${gw.secret}
simultaneous_writes: ${PARALLEL}
simultaneous_reads: ${PARALLEL}
[io_file]
simultaneous_reads: ${PARALLEL}
simultaneous_writes: ${PARALLEL}
`,
  );
  return path;
}

/** Splits the source into 4 MiB piece files for curl; returns their paths. */
async function pieces(options: S3BenchOptions, source: string): Promise<string[]> {
  const dir = join(options.dir, "s3-pieces");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  Deno.mkdirSync(dir, { recursive: true });
  await run("split", ["-b", `${4 * MiB}`, "-a", "4", source, `${dir}/p`]);
  return [...Deno.readDirSync(dir)].map((entry) => join(dir, entry.name)).sort();
}

export async function s3Bench(options: S3BenchOptions): Promise<S3BenchRow[]> {
  const mib = Math.min(options.sizeMiB, 1024) - (Math.min(options.sizeMiB, 1024) % 4);
  const gw = await gateway(options.root);
  const bucket = `b2bench-${Date.now().toString(36)}`;
  try {
    await curl(gw, ["-X", "PUT", "-o", "/dev/null", `${gw.endpoint}/${bucket}`]);
    const source = join(options.dir, "s3-source.img");
    await run("sh", ["-c", `head -c ${mib * MiB} '${options.sourceFile}' > '${source}'`]);
    const files = await pieces(options, source);
    const url = (i: number) => `${gw.endpoint}/${bucket}/curl-${i}`;
    const put = await curl(gw, files.flatMap((file, i) => ["-T", file, url(i)]));
    const get = await curl(gw, files.flatMap((_, i) => ["-o", "/dev/null", url(i)]));
    const cfg = config(options, gw, bucket);
    await run(join(options.root, "scripts/backy2"), ["-c", cfg, "initdb"]);
    const backup = await options.timed(["-c", cfg, "backup", `file://${source}`, "s3-bench"]);
    const target = join(options.dir, "s3-restored.img");
    await Deno.remove(target).catch(() => {});
    const uid = await latestVersion(options, cfg);
    const restore = await options.timed(["-c", cfg, "restore", uid, `file://${target}`]);
    const same = await run("cmp", ["-s", source, target]).then(() => true, () => false);
    await Deno.remove(target).catch(() => {});
    const row = (job: string, seconds: number, rssMiB = 0, note?: string): S3BenchRow => ({
      job,
      seconds,
      mibPerSec: mib / seconds,
      rssMiB,
      note,
    });
    const putRate = mib / put;
    const getRate = mib / get;
    return [
      row(`S3: curl PUT, ${mib} MiB in 4 MiB objects, ${PARALLEL} at once`, put),
      row(`S3: curl GET, the same objects`, get),
      row(
        `S3: backup ${mib} MiB to the gateway`,
        backup.seconds,
        backup.rssMiB,
        percentOf(mib / backup.seconds, putRate, "curl PUT"),
      ),
      row(
        `S3: restore from the gateway (checksums verified)`,
        restore.seconds,
        restore.rssMiB,
        `${percentOf(mib / restore.seconds, getRate, "curl GET")}; ${same ? "byte-identical" : "DIFFERS"}`,
      ),
    ];
  } finally {
    if (gw.cephConf) {
      await run("radosgw-admin", [
        "-c",
        gw.cephConf,
        "-n",
        "client.admin",
        "bucket",
        "rm",
        `--bucket=${bucket}`,
        "--purge-objects",
      ])
        .catch(() => {});
    }
    await gw.stop();
  }
}

function percentOf(rate: number, reference: number, what: string): string {
  return `${((rate / reference) * 100).toFixed(0)} % of ${what}`;
}

async function latestVersion(options: S3BenchOptions, cfg: string): Promise<string> {
  const output = await new Deno.Command(join(options.root, "scripts/backy2"), {
    args: ["-c", cfg, "-ms", "ls", "-f", "uid", "s3-bench"],
    stdout: "piped",
  }).output();
  const uid = new TextDecoder().decode(output.stdout).trim().split("\n").at(-1);
  if (!uid) throw new Error("the S3 bench backup made no version");
  return uid;
}
