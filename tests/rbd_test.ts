/**
 * CLI tests of `rbd://` sources and targets against a real Ceph cluster.
 *
 * `scripts/test` starts a throw-away cluster (`scripts/ceph-cluster start DIR`) and exports
 * `BACKY2_CEPH_CONF=DIR/ceph.conf`; without it this file fails (it is never skipped). Images are made and
 * changed with the `rbd` CLI only (`rbd import`, `rbd import-diff` of a stream built here, `rbd snap create`),
 * and every restore is compared with `rbd export` of its snapshot, so nothing here trusts backy2's own
 * librbd bindings. Covers: a snapshot chain s1 → s2 → s3 backed up fully, differentially with `rbd diff`
 * hints (`-r`) and with the in-tool diff; restores into new and existing images; deep scrub against a
 * snapshot and against the changed live image; and the error paths (missing pool, image, snapshot; existing
 * or too small target; unreachable cluster).
 */
import { createHash } from "node:crypto";
import {
  assert,
  assertEquals,
  assertMatch,
  type BlockKind,
  buildImage,
  describeRun,
  expectRun,
  parseMachineRows,
  Rng,
  type RunResult,
  Sandbox,
  testSeed,
} from "./helpers.ts";

const CONF = Deno.env.get("BACKY2_CEPH_CONF");
const POOL = "rbd";
const MiB = 1048576;
/** backy2's block size here; RBD objects are 4 MiB, so one object holds four blocks. */
const BS = MiB;
const IMAGE_BLOCKS = 64;

if (!CONF) {
  Deno.test("rbd: needs a Ceph cluster", () => {
    throw new Error(
      "BACKY2_CEPH_CONF is not set. Run the suite with scripts/test (it starts a cluster), or start one with " +
        "`scripts/ceph-cluster start /tmp/b2ceph` and export BACKY2_CEPH_CONF=/tmp/b2ceph/ceph.conf.",
    );
  });
} else {
  registerTests(CONF);
}

// ---- The rbd CLI ----

const decoder = new TextDecoder();

/** Runs `rbd -c CONF ARGS` (stdin from `input`); throws with its stderr when it fails. */
async function rbd(conf: string, args: string[], input?: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("rbd", {
    args: ["-c", conf, ...args],
    stdin: input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input) {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const output = await child.output();
  if (!output.success) throw new Error(`rbd ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  return output.stdout;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** sha256 of `rbd export SPEC -` (an image or a snapshot). */
async function exported(conf: string, spec: string): Promise<string> {
  return sha256(await rbd(conf, ["export", spec, "-"]));
}

interface Change {
  /** Data written at an offset. */
  writes?: [offset: number, data: Uint8Array][];
  /** Ranges zeroed (`rbd import-diff` discards/zeroes them). */
  zeroes?: [offset: number, length: number][];
}

/**
 * An `rbd export-diff` v1 stream: optional end snapshot ('t', created by import-diff after applying), the
 * image size ('s'), data ('w') and zero ('z') records, then 'e'. All integers little-endian.
 */
function diffStream(size: number, change: Change, toSnapshot?: string): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode("rbd diff v1\n")];
  const record = (tag: string, ...numbers: number[]) => {
    const bytes = new Uint8Array(1 + numbers.length * 8);
    bytes[0] = tag.charCodeAt(0);
    const view = new DataView(bytes.buffer);
    numbers.forEach((n, i) => view.setBigUint64(1 + i * 8, BigInt(n), true));
    parts.push(bytes);
  };
  if (toSnapshot) {
    const name = new TextEncoder().encode(toSnapshot);
    const header = new Uint8Array(5);
    header[0] = "t".charCodeAt(0);
    new DataView(header.buffer).setUint32(1, name.length, true);
    parts.push(header, name);
  }
  record("s", size);
  for (const [offset, data] of change.writes ?? []) {
    record("w", offset, data.length);
    parts.push(data);
  }
  for (const [offset, length] of change.zeroes ?? []) record("z", offset, length);
  parts.push(new TextEncoder().encode("e"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Applies a change to an image with `rbd import-diff`, creating snapshot `toSnapshot` afterwards if given. */
async function applyChange(conf: string, image: string, change: Change, toSnapshot?: string): Promise<void> {
  const size = IMAGE_BLOCKS * BS;
  await rbd(conf, ["import-diff", "-", `${POOL}/${image}`], diffStream(size, change, toSnapshot));
}

// ---- backy2 ----

/** A sandbox whose config has an [io_rbd] section for the test cluster. */
async function rbdSandbox(conf: string, cephConf = conf): Promise<Sandbox> {
  const sandbox = await Sandbox.create({ blockSize: BS });
  const section = [
    "[io_rbd]",
    `ceph_conffile: ${cephConf}`,
    "simultaneous_reads: 4",
    "simultaneous_writes: 4",
    "new_image_features: RBD_FEATURE_LAYERING RBD_FEATURE_EXCLUSIVE_LOCK",
    "",
  ];
  await Deno.writeTextFile(sandbox.config, `${await Deno.readTextFile(sandbox.config)}\n${section.join("\n")}`);
  return sandbox;
}

/** Requires a failing run to print exactly one ERROR line `message` and the plain `line`, exit 1. */
function expectOpenError(result: RunResult, message: string, line: string): void {
  expectRun(result, { code: 1, stderr: `   ERROR: [backy2.logging] ${message}\n${line}\n` });
}

/** `blocks read` of a version's stats row. */
async function blocksRead(sb: Sandbox, uid: string): Promise<number> {
  const result = await sb.run(["-m", "stats", uid]);
  expectRun(result, { code: 0, stderr: "" });
  return Number(parseMachineRows(result.stdout)[0]["blocks read"]);
}

function rngBlocks(rng: Rng): BlockKind[] {
  return Array.from({ length: IMAGE_BLOCKS }, (_, id) => {
    if (id % 9 === 4 || (id >= 40 && id < 48)) return "zero";
    if (id === 30) return { copyOf: 3 };
    return rng.chance(0.9) ? "random" : "zero";
  });
}

// ---- The tests ----

function registerTests(conf: string): void {
  Deno.test("rbd: snapshot chain, full and differential backups, restores, deep scrubs", async (t) => {
    const rng = new Rng(testSeed());
    const name = `chain${rng.u32().toString(36)}`;
    const images: string[] = [name];
    const sb = await rbdSandbox(conf);
    try {
      await runChain(t, conf, sb, rng, name, images);
    } finally {
      await removeImages(conf, images);
      await sb.remove();
    }
  });

  Deno.test("rbd: missing pool, image or snapshot; existing or too small target", async (t) => {
    const image = `errs${new Rng(testSeed()).u32().toString(36)}`;
    const sb = await rbdSandbox(conf);
    try {
      await rbd(conf, ["create", "--size", "8M", `${POOL}/${image}`]);
      await rbd(conf, ["snap", "create", `${POOL}/${image}@s1`]);
      const uid = await sb.backup(["-s", "s1", `rbd://${POOL}/${image}@s1`, image]);
      await openErrors(t, conf, sb, image, uid);
    } finally {
      await removeImages(conf, [image, `${image}-small`]);
      await sb.remove();
    }
  });

  Deno.test("rbd: an unreachable cluster fails with a clear error within client_mount_timeout", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const good = await Deno.readTextFile(conf);
    const dir = await Deno.makeTempDir({ prefix: "b2-badceph-" });
    try {
      const bad = `${dir}/ceph.conf`;
      await Deno.writeTextFile(
        bad,
        good.replace(/^mon_host = .*$/m, `mon_host = [v1:127.0.0.1:${port}]`)
          .replace(/^client_mount_timeout = .*$/m, "client_mount_timeout = 3"),
      );
      const sb = await rbdSandbox(conf, bad);
      try {
        const started = performance.now();
        const result = await sb.run(["backup", `rbd://${POOL}/img@s1`, "x"]);
        const seconds = (performance.now() - started) / 1000;
        expectRun(result, { code: 100 });
        assertMatch(
          result.stderr,
          /ERROR: \[backy2\.logging\] Cannot connect to the Ceph cluster of .*: Connection timed out\n/,
        );
        assert(seconds < 25, `gave up after ${seconds.toFixed(1)} s, the timeout is 3 s`);
      } finally {
        await sb.remove();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

async function runChain(
  t: Deno.TestContext,
  conf: string,
  sb: Sandbox,
  rng: Rng,
  name: string,
  images: string[],
): Promise<void> {
  const spec = (snap: string) => `${POOL}/${name}@${snap}`;
  const uids: Record<string, string> = {};
  const restoreAndCompare = async (snap: string) => {
    const target = `${name}-r${snap}`;
    images.push(target);
    const result = await sb.run(["restore", uids[snap], `rbd://${POOL}/${target}`]);
    expectRun(result, { code: 0, stderr: "" }, `restore of ${snap}`);
    assertEquals(await exported(conf, `${POOL}/${target}`), await exported(conf, spec(snap)), `restore of ${snap}`);
  };

  await t.step("full backup of @s1 restores into a new image", async () => {
    const file = sb.path("s1.img");
    await Deno.writeFile(file, buildImage(rng, BS, rngBlocks(rng)));
    await rbd(conf, ["import", file, `${POOL}/${name}`]);
    await rbd(conf, ["snap", "create", spec("s1")]);
    uids.s1 = await sb.backup(["-s", "s1", `rbd://${spec("s1")}`, name]);
    await restoreAndCompare("s1");
  });

  await t.step("differential backup of @s2 with rbd diff hints (-r)", async () => {
    await applyChange(conf, name, {
      writes: [[2 * BS + 4096, rng.bytes(8192)], [17 * BS, rng.bytes(BS)], [44 * BS, rng.bytes(3 * BS)]],
      zeroes: [[8 * BS, 4 * BS], [21 * BS, BS]],
    }, "s2");
    const hints = sb.path("s2.json");
    await Deno.writeFile(
      hints,
      await rbd(conf, ["diff", "--from-snap", "s1", "--whole-object", "--format", "json", spec("s2")]),
    );
    const result = await sb.run(["backup", "-s", "s2", "-r", hints, "-f", uids.s1, `rbd://${spec("s2")}`, name]);
    expectRun(result, { code: 0, stderr: "" });
    assert(!result.stdout.includes("Hints from an rbd diff"), "-r wins over the in-tool diff");
    uids.s2 = (await sb.versions()).find((v) => v.snapshot_name === "s2")!.uid;
    await restoreAndCompare("s2");
  });

  await t.step("differential backup of @s3 with the in-tool diff against the base's snapshot", async () => {
    await applyChange(conf, name, {
      writes: [[0, rng.bytes(4096)], [33 * BS + 100, rng.bytes(BS)], [63 * BS, rng.bytes(BS)]],
      zeroes: [[12 * BS, 4 * BS]],
    }, "s3");
    const result = await sb.run(["-v", "backup", "-s", "s3", "-f", uids.s2, `rbd://${spec("s3")}`, name]);
    expectRun(result, { code: 0, stderr: "" });
    assertMatch(result.stdout, /Hints from an rbd diff of rbd:\/\/.*@s3 against snapshot s2 of base version/);
    uids.s3 = (await sb.versions()).find((v) => v.snapshot_name === "s3")!.uid;
    // Three changed 4 MiB objects (12 blocks) plus at most 10 sampled unchanged blocks.
    const read = await blocksRead(sb, uids.s3);
    assert(read >= 12 && read <= 22, `the in-tool diff backup read ${read} blocks`);
    await restoreAndCompare("s3");
  });

  await t.step("without the base's snapshot the whole source is read", async () => {
    const copy = `${name}-copy`;
    images.push(copy);
    await rbd(conf, ["import", sb.path("s1.img"), `${POOL}/${copy}`]);
    await rbd(conf, ["snap", "create", `${POOL}/${copy}@other`]);
    const result = await sb.run(["backup", "-s", "other", "-f", uids.s3, `rbd://${POOL}/${copy}@other`, name]);
    expectRun(result, { code: 0, stderr: "" });
    assertMatch(result.stdout, /Snapshot s3 of base version .* is not usable on .*; reading the whole source\./);
    const uid = (await sb.versions()).find((v) => v.snapshot_name === "other")!.uid;
    assertEquals(await blocksRead(sb, uid), IMAGE_BLOCKS);
  });

  await t.step("a base taken from a later snapshot gives no diff either", async () => {
    const result = await sb.run(["backup", "-s", "s1", "-f", uids.s3, `rbd://${spec("s1")}`, name]);
    expectRun(result, { code: 0, stderr: "" });
    assertMatch(result.stdout, /Snapshot s3 of base version .* is not usable on .*; reading the whole source\./);
  });

  await t.step("restore -f into an existing image zeroes what the version has as sparse", async () => {
    const target = `${name}-rs3`; // holds s3 now
    const result = await sb.run(["restore", "-f", uids.s1, `rbd://${POOL}/${target}`]);
    expectRun(result, { code: 0, stderr: "" });
    assertEquals(await exported(conf, `${POOL}/${target}`), await exported(conf, spec("s1")));
  });

  await t.step("deep scrub against @s3 passes", async () => {
    const result = await sb.run(["scrub", "-s", `rbd://${spec("s3")}`, uids.s3]);
    expectRun(result, { code: 0, stderr: "" }, describeRun(result));
    assertMatch(result.stdout, /Marked version valid: /);
  });

  await t.step("deep scrub against the changed live image reports the changes and invalidates nothing", async () => {
    // Block 17 holds data in s3 (written for s2); scrub compares only blocks with data.
    await applyChange(conf, name, { writes: [[17 * BS + 512, rng.bytes(4096)]] });
    const result = await sb.run(["scrub", "-s", `rbd://${POOL}/${name}`, uids.s3]);
    expectRun(result, { code: 20 });
    assertMatch(result.stderr, /Source data has changed for block 17 \(UID /);
    for (const version of await sb.versions()) assertEquals(version.valid, "1", `valid of ${version.uid}`);
  });
}

async function openErrors(t: Deno.TestContext, conf: string, sb: Sandbox, image: string, uid: string): Promise<void> {
  await t.step("missing pool (source and target)", async () => {
    const source = await sb.run(["backup", "rbd://nopool/img@s1", "x"]);
    expectOpenError(source, "Pool not found: nopool", "Error opening backup source.");
    const target = await sb.run(["restore", uid, "rbd://nopool/img"]);
    expectOpenError(target, "Pool not found: nopool", "Error opening backup source.");
  });

  await t.step("missing image or snapshot", async () => {
    const missing = await sb.run(["backup", `rbd://${POOL}/${image}-none@s1`, "x"]);
    expectOpenError(missing, `Image/Snapshot not found: ${image}-none@s1`, "Error opening backup source.");
    const noSnap = await sb.run(["backup", `rbd://${POOL}/${image}@nosnap`, "x"]);
    expectOpenError(noSnap, `Image/Snapshot not found: ${image}@nosnap`, "Error opening backup source.");
    const head = await sb.run(["backup", `rbd://${POOL}/${image}-none`, "x"]);
    expectOpenError(head, `Image/Snapshot not found: ${image}-none@None`, "Error opening backup source.");
  });

  await t.step("bad URLs", async () => {
    const source = await sb.run(["backup", `rbd://${POOL}`, "x"]);
    expectRun(source, { code: 100, stderr: /Need pool\/imagename or pool\/imagename@snapshotname/ });
    const target = await sb.run(["restore", uid, `rbd://${POOL}/${image}@s1`]);
    expectRun(target, { code: 100, stderr: /Not a valid io name: .* \. Need pool\/imagename\n/ });
  });

  await t.step("existing target needs -f; with -f it must not be smaller", async () => {
    const exists = await sb.run(["restore", uid, `rbd://${POOL}/${image}`]);
    expectOpenError(exists, `Image already exists: ${image}`, "Error opening restore target.");
    await rbd(conf, ["create", "--size", "4M", `${POOL}/${image}-small`]);
    const small = await sb.run(["restore", "-f", uid, `rbd://${POOL}/${image}-small`]);
    expectOpenError(
      small,
      `Target size is too small. Has ${4 * MiB}b, need ${8 * MiB}b.`,
      "Error opening restore target.",
    );
    const forced = await sb.run(["restore", "-f", uid, `rbd://${POOL}/${image}`]);
    expectRun(forced, { code: 0, stderr: "" });
  });
}

/** Removes test images with their snapshots (best effort: the cluster is thrown away anyway). */
async function removeImages(conf: string, images: string[]): Promise<void> {
  for (const image of images) {
    await rbd(conf, ["snap", "purge", `${POOL}/${image}`]).catch(() => {});
    await rbd(conf, ["rm", `${POOL}/${image}`]).catch(() => {});
  }
}
