/**
 * scripts/bench: measures backy2's data jobs against a hash baseline taken in the same run (see the README).
 * Each job runs the real CLI as a separate process under GNU time for its peak RSS. Data sets: a random file and
 * an ext4 image (scripts/bench_image.ts); `--peers` adds restic and borg on the same files (scripts/bench_peers.ts).
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { randomFillSync } from "node:crypto";
import { openSqliteCatalog } from "../src/catalog/sqlite/catalog.ts";
import { newBlobUid } from "../src/store/blob_uid.ts";
import { rbdBench } from "./bench_rbd.ts";
import { s3Bench } from "./bench_s3.ts";
import { mountBench } from "./bench_mount.ts";
import { pgBench } from "./bench_pg.ts";
import { openSslDigest } from "../src/platform/libcrypto.ts";
import { RawFile } from "../src/platform/posix_io.ts";
import { duMiB, identityNote, MiB, run, sameContent, type Timed, timedCommand } from "./bench_run.ts";
import { type ImageSet, prepareImages } from "./bench_image.ts";
import { peerRows, peerVersions } from "./bench_peers.ts";
import { applyTargets, printTable, type Row } from "./bench_table.ts";
import { ddRate, nodeHashRate } from "./bench_limits.ts";
import { writeBench } from "./bench_write.ts";

const root = resolve(import.meta.dirname!, "..");
const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string" },
    "store-dir": { type: "string" },
    "size-mib": { type: "string" },
    ceph: { type: "boolean" }, // rbd:// rows (scripts/bench_rbd.ts); also when BACKY2_CEPH_CONF is set
    s3: { type: "boolean" }, // S3 rows (scripts/bench_s3.ts)
    postgres: { type: "boolean" }, // SQLite vs PostgreSQL catalog rows (scripts/bench_pg.ts)
    peers: { type: "boolean" },
    "image-size": { type: "string" },
    "image-from": { type: "string" },
    "no-image": { type: "boolean" },
    // Small data (256 MiB file, 256M image from /usr/share/doc) and only the file, image and peer rows.
    quick: { type: "boolean" },
    // The write-bound rounds (scripts/bench_write.ts): how many, the idle pause before "restore alone", another
    // checkout measured in the same rounds, and nothing else.
    rounds: { type: "string" },
    idle: { type: "string" },
    baseline: { type: "string" },
    "write-only": { type: "boolean" },
    // Set only when asked: older backy2 versions of this tool do not know these [DataBackend] keys.
    compression: { type: "string" },
    "compression-level": { type: "string" },
  },
});
const quick = values.quick ?? false;
const dir = resolve(values.dir ?? join(root, ".bench"));
const storeDir = resolve(values["store-dir"] ?? join(dir, "store"));
const sizeMiB = Number(values["size-mib"] ?? (quick ? 256 : 2048));
const imageSize = values["image-size"] ?? Deno.env.get("BENCH_IMAGE_SIZE") ?? (quick ? "256M" : "2G");
const imageFrom = values["image-from"] ?? Deno.env.get("BENCH_IMAGE_FROM") ?? (quick ? "/usr/share/doc" : "/usr/share");

/** A config whose catalog and store live in `{storeDir}/{name}`; `backend` `null` discards blobs. */
function writeConfig(name: string, extra = "", backend: "file" | "null" = "file"): string {
  const path = join(dir, `${name}.cfg`);
  const compression = [
    values.compression === undefined ? "" : `compression: ${values.compression}\n`,
    values["compression-level"] === undefined ? "" : `compression_level: ${values["compression-level"]}\n`,
  ].join("");
  Deno.writeTextFileSync(
    path,
    `[DEFAULTS]
logfile: ${dir}/backy.log
block_size: 4194304
hash_function: sha512
lock_dir: ${storeDir}/${name}
encryption_version: 0
${extra}
[MetaBackend]
type: backy2.meta_backends.sql
engine: sqlite:///${storeDir}/${name}/backy.sqlite
[DataBackend]
type: backy2.data_backends.${backend}
path: ${storeDir}/${name}/data
simultaneous_writes: 5
simultaneous_reads: 5
${compression}[io_file]
simultaneous_reads: 5
simultaneous_writes: 5
`,
  );
  Deno.mkdirSync(join(storeDir, name), { recursive: true });
  return path;
}

/** A config as `writeConfig` makes it, with its catalog created by `backy2 initdb`. */
async function newStore(name: string, extra = "", backend: "file" | "null" = "file"): Promise<string> {
  const config = writeConfig(name, extra, backend);
  await timed(["-c", config, "initdb"]);
  return config;
}

/** Runs backy2 under GNU time; returns wall seconds, peak RSS and stdout. */
function timed(args: string[]): Promise<Timed> {
  const deno = join(root, "node_modules/.bin/deno");
  return timedCommand(deno, ["run", "--allow-all", "--quiet", "--no-prompt", join(root, "main.ts"), ...args]);
}

/** The `du` of a bench store's blobs (its data directory). */
function storeMiB(name: string): Promise<number> {
  return duMiB(join(storeDir, name, "data"));
}

function makeSourceFile(path: string, mib: number): void {
  try {
    if (Deno.statSync(path).size === mib * MiB) return;
  } catch { /* create it */ }
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(16 * MiB);
  for (let done = 0; done < mib; done += 16) {
    randomFillSync(chunk);
    file.writeSync(chunk.subarray(0, Math.min(16, mib - done) * MiB));
  }
  file.close();
}

/**
 * What this machine can do at best, measured in the same run: sha512 through OpenSSL on every core over
 * data already in memory (the hash every job pays), one plain copy of the file onto the store's filesystem,
 * and the same copy made durable (what a first backup must pay before its version may turn valid).
 */
async function machineLimits(source: string): Promise<Row[]> {
  const rows: Row[] = [];
  const digest = openSslDigest("sha512", 64);
  if (digest) {
    const blocks = Math.min(256, Math.floor(sizeMiB / 4));
    const data = new Uint8Array(blocks * 4 * MiB);
    const file = RawFile.open(source, "read");
    await file.readAt(0, data);
    file.close();
    let next = 0;
    const started = performance.now();
    // Four digests in flight keep both cores busy across the hand-offs, as the pipeline does.
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (next < blocks) {
        const i = next++;
        await digest.digest(data.subarray(i * 4 * MiB, (i + 1) * 4 * MiB));
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      job: "limit: OpenSSL sha512 on all cores, data in memory",
      seconds,
      mibPerSec: blocks * 4 / seconds,
      rssMiB: 0,
    });
  }
  for (const durable of [false, true]) {
    const started = performance.now();
    const rate = await ddRate(source, storeDir, sizeMiB, durable ? "durable" : "plain");
    if (rate === null) continue;
    rows.push({
      job: durable ? "limit: dd of the file to the store, conv=fsync" : "limit: dd of the file to the store (a copy)",
      seconds: (performance.now() - started) / 1000,
      mibPerSec: rate,
      rssMiB: 0,
    });
  }
  return rows;
}

/** A 1 TiB base version with 262,144 distinct blob references, made through the catalog API. */
async function makeTerabyteBase(sqlitePath: string): Promise<string> {
  const catalog = openSqliteCatalog(sqlitePath, { engine: `sqlite:///${sqlitePath}`, create: true });
  const blocks = 262144;
  const version = await catalog.createVersion({
    name: "tb",
    snapshotName: "",
    size: blocks,
    sizeBytes: blocks * 4 * MiB,
    blockSize: 4 * MiB,
    hashFunction: "sha512",
  });
  const refs = Array.from({ length: blocks }, (_, i) => ({
    uid: newBlobUid(),
    checksum: i.toString(16).padStart(128, "0"),
    size: 4 * MiB,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
  }));
  const ids = await catalog.addRefs(refs);
  await catalog.commitVersion(version.uid, Uint32Array.from(ids));
  await catalog.close();
  return version.uid;
}

async function main(): Promise<void> {
  Deno.mkdirSync(dir, { recursive: true });
  await Deno.remove(storeDir, { recursive: true }).catch(() => {});
  const source = join(dir, "random.img");
  makeSourceFile(source, sizeMiB);
  const images = values["no-image"] || values["write-only"]
    ? undefined
    : await prepareImages(dir, imageSize, imageFrom);
  for (const path of [source, images?.first, images?.changed]) {
    if (path) await new Deno.Command("cat", { args: [path], stdout: "null" }).output(); // into the page cache
  }
  Deno.mkdirSync(storeDir, { recursive: true });
  await writeBench({
    source,
    sizeMiB,
    dir,
    storeDir,
    checkouts: [
      { label: values.baseline ? "this" : "backy2", root },
      ...(values.baseline ? [{ label: "baseline", root: resolve(values.baseline) }] : []),
    ],
    rounds: Number(values.rounds ?? 3),
    idleSeconds: Number(values.idle ?? (quick ? 2 : 10)),
    writeConfig: (name) => writeConfig(name),
  });
  if (values["write-only"]) return;
  const hashRate = await nodeHashRate(source);
  const rows: Row[] = await machineLimits(source);
  rows.push(...await fileRows(source));
  if (!quick) rows.push(...await syntheticRows());
  if (images) rows.push(...await imageRows(images));
  // ---- rbd:// (scripts/bench_rbd.ts): only with --ceph or BACKY2_CEPH_CONF ----
  if (values.ceph || Deno.env.get("BACKY2_CEPH_CONF")) {
    rows.push(...await rbdBench({ root, sourceFile: source, sizeMiB, config: await newStore("rbd"), timed }));
  }
  if (values.s3) rows.push(...await s3Bench({ root, sourceFile: source, sizeMiB, dir, timed }));
  if (values.postgres) rows.push(...await pgBench({ dir, sourceFile: source, sizeMiB, timed }));
  const versions = values.peers ? await peerVersions() : "";
  if (values.peers) rows.push(...await peerRows(join(storeDir, "peers"), source, sizeMiB, images));
  applyTargets(rows, hashRate);
  printHeader(hashRate, images, versions);
  printTable(rows, hashRate);
}

/** Restores a version to a scratch file, compares it with its source and removes it again. */
async function restoreRow(cfg: string, uid: string, source: string, job: string, mib: number): Promise<Row> {
  const target = join(dir, "restored.img");
  await Deno.remove(target).catch(() => {});
  const restored = await timed(["-c", cfg, "restore", uid, `file://${target}`]);
  const identical = await sameContent(source, target);
  await Deno.remove(target).catch(() => {});
  return { job, ...restored, mibPerSec: mib / restored.seconds, note: identityNote(identical) };
}

/** The random file: first backup, unchanged re-backup, restore and scrub. */
async function fileRows(source: string): Promise<Row[]> {
  const rate = (seconds: number) => sizeMiB / seconds;
  const cfg = await newStore("file");
  const first = await timed(["-c", cfg, "-m", "backup", `file://${source}`, "bench"]);
  const uid = first.stdout.trim().split("\n")[0];
  const firstRow: Row = {
    job: `first backup, ${sizeMiB} MiB random file`,
    ...first,
    mibPerSec: rate(first.seconds),
    storeMiB: await storeMiB("file"),
    key: "ours.file.first",
  };
  const again = await timed(["-c", cfg, "-m", "backup", `file://${source}`, "bench"]);
  const againRow: Row = {
    job: "re-backup unchanged",
    ...again,
    mibPerSec: rate(again.seconds),
    storeMiB: await storeMiB("file"),
    key: "ours.file.rebackup",
  };
  const restored = await restoreRow(cfg, uid, source, "restore to a file (checksums verified)", sizeMiB);
  const mounted = await mountBench({ root, config: cfg, uid, sizeMiB, restoreMiBs: restored.mibPerSec!, dir });
  const scrubbed = await timed(["-c", cfg, "scrub", uid]);
  return [firstRow, againRow, restored, ...mounted, { job: "scrub", ...scrubbed, mibPerSec: rate(scrubbed.seconds) }];
}

/**
 * The ext4 image: first backup; the changed image as a differential against it, once reading it all and once
 * reading only the hinted regions (on a copy of the store, so that both find only the first version); restore.
 */
async function imageRows(images: ImageSet): Promise<Row[]> {
  const mib = images.bytes / MiB;
  const rate = (seconds: number) => mib / seconds;
  const cfg = await newStore("image");
  const first = await timed(["-c", cfg, "-m", "backup", `file://${images.first}`, "image"]);
  const firstUid = first.stdout.trim().split("\n")[0];
  const rows: Row[] = [{
    job: `first backup, ${mib} MiB ext4 image`,
    ...first,
    mibPerSec: rate(first.seconds),
    storeMiB: await storeMiB("image"),
    key: "ours.image.first",
  }];
  await run("cp", ["-a", join(storeDir, "image"), join(storeDir, "image-hinted")]);
  const hintedCfg = writeConfig("image-hinted"); // the copied catalog
  const changed = `file://${images.changed}`;
  const second = await timed(["-c", cfg, "-m", "backup", "-f", firstUid, changed, "image"]);
  rows.push({
    job: "backup of the changed image, -f FIRST (reads it all)",
    ...second,
    mibPerSec: rate(second.seconds),
    storeMiB: await storeMiB("image"),
    key: "ours.image.second",
  });
  const hinted = await timed(["-c", hintedCfg, "backup", "-r", images.hints, "-f", firstUid, changed, "image"]);
  rows.push({
    job: "backup of the changed image, -f FIRST -r HINTS",
    ...hinted,
    mibPerSec: rate(hinted.seconds),
    storeMiB: await storeMiB("image-hinted"),
    note: `reads the ${images.changedRegions} hinted 4 MiB regions; MiB/s of the whole image`,
    key: "ours.image.hinted",
  });
  const secondUid = second.stdout.trim().split("\n")[0];
  const restored = await restoreRow(cfg, secondUid, images.changed, "restore of the changed image", mib);
  return [...rows, { ...restored, key: "ours.image.restore" }];
}

/** Generated sources: null:// throughput, the RSS pair, the 1 TiB differential and `ls` start-up. */
async function syntheticRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const rate = (seconds: number, mib: number) => mib / seconds;
  const nullCfg = await newStore("null");
  const null4 = await timed(["-c", nullCfg, "backup", "null://4G", "null4"]);
  rows.push({ job: "backup null://4GB", ...null4, mibPerSec: rate(null4.seconds, 4096) });
  // The RSS pair runs on the null data backend, so that page-cache effects of earlier jobs do not differ.
  const discardCfg = await newStore("discard", "", "null");
  const null1g = await timed(["-c", discardCfg, "backup", "null://1G", "null1g"]);
  rows.push({ job: "RSS: backup null://1G (null store)", ...null1g, mibPerSec: rate(null1g.seconds, 1024) });
  const emptyHints = join(dir, "empty-hints.json");
  Deno.writeTextFileSync(emptyHints, "[]\n");
  // 1 GiB of changes spread evenly over 1 TiB: the same data work as null://1G on a 1024 times larger image.
  const spreadHints = join(dir, "spread-hints.json");
  const extents = Array.from({ length: 256 }, (_, i) => ({ offset: i * 4096 * MiB, length: 4 * MiB, exists: "true" }));
  Deno.writeTextFileSync(spreadHints, JSON.stringify(extents) + "\n");
  const null1t = await timed(["-c", discardCfg, "backup", "-r", spreadHints, "null://1T", "null1t"]);
  rows.push({
    job: "RSS: backup null://1T, 1 GiB hinted (null store)",
    ...null1t,
    mibPerSec: rate(null1t.seconds, 1024),
    note: `RSS ${((null1t.rssMiB / null1g.rssMiB - 1) * 100).toFixed(0)} % vs 1G`,
  });

  const tbCfg = writeConfig("tb");
  const tbCatalog = join(storeDir, "tb", "backy.sqlite");
  const base = await makeTerabyteBase(tbCatalog);
  // A base made through the catalog API has no metadata in the store yet; a real backup would have written it.
  const repair = await timed(["-c", tbCfg, "check-store", "--repair"]);
  rows.push({ job: "check-store --repair of a 1 TiB version (256 page objects)", ...repair });
  const before = Deno.statSync(tbCatalog).size + walSize(tbCatalog);
  const diff = await timed(["-c", tbCfg, "backup", "-r", emptyHints, "-f", base, "null://1T", "tb"]);
  const growth = Deno.statSync(tbCatalog).size + walSize(tbCatalog) - before;
  rows.push({ job: "unchanged 1 TiB differential", ...diff, note: `catalog +${(growth / 1024).toFixed(0)} KiB` });

  for (let i = 0; i < 100; i++) {
    if ((await timed(["-c", nullCfg, "backup", "-r", emptyHints, "null://4M", `ls${i % 10}`])).seconds < 0) break;
  }
  const lsTimes: number[] = [];
  for (let i = 0; i < 5; i++) lsTimes.push((await timed(["-c", nullCfg, "ls"])).seconds);
  const ls = Math.min(...lsTimes);
  rows.push({ job: "backy2 ls start-up, 100+ versions (best of 5)", seconds: ls, rssMiB: 0 });
  return rows;
}

function walSize(path: string): number {
  try {
    return Deno.statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

function printHeader(hashRate: number, images: ImageSet | undefined, peers: string): void {
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  console.log(`machine: ${navigator.hardwareConcurrency} cores, ${cpu}; data ${dir}; store ${storeDir}`);
  console.log(`baseline: node:crypto sha512 on 2 workers over the same file: ${hashRate.toFixed(0)} MiB/s`);
  if (images) {
    console.log(
      `image: ext4 of ${imageSize} from ${imageFrom}; changed image: ${images.changedRegions} of its ` +
        `${images.regions} 4 MiB regions overwritten with random bytes`,
    );
  }
  if (values.compression) {
    const level = values["compression-level"] ? `, compression_level: ${values["compression-level"]}` : "";
    console.log(`[DataBackend] compression: ${values.compression}${level}`);
  }
  if (peers) console.log(`peers: ${peers}`);
  console.log("");
}

await main();
