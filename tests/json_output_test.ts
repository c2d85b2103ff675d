/**
 * CLI tests of `--json`: listings are JSON arrays of typed rows, backup/restore/scrub/cleanup and every other
 * command end with one result object, failures included, stdout holds nothing but JSON, and log lines go to
 * stderr.
 */
import {
  assert,
  assertEquals,
  buildImage,
  describeRun,
  expectRun,
  Rng,
  type RunResult,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";

const BS = 4096;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const UID = /^[0-9a-f-]{36}$/;

type Json = Record<string, unknown>;

/** stdout as JSON, requiring it to be nothing else (and stderr free of JSON). */
function parseJson(result: RunResult): unknown {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document:\n${describeRun(result)}`);
  }
}

function parseRows(result: RunResult): Json[] {
  const rows = parseJson(result);
  assert(Array.isArray(rows), `a listing is an array:\n${describeRun(result)}`);
  assert(result.stdout === "[]\n" || /^\[\n(\{.*\},\n)*\{.*\}\n\]\n$/.test(result.stdout), "one row per line");
  return rows as Json[];
}

function parseResult(result: RunResult): Json {
  const object = parseJson(result) as Json;
  assert(result.stdout.split("\n").length === 2, `one result object on one line:\n${describeRun(result)}`);
  assertEquals(object.exit_code, result.code, "exit_code is the process's");
  assertEquals(object.success, result.code === 0, "success");
  assert(ISO.test(object.started as string) && ISO.test(object.finished as string), "started, finished");
  assertEquals(typeof object.duration_seconds, "number", "duration_seconds");
  return object;
}

async function backupImage(sb: Sandbox, name: string, args: string[] = []): Promise<string> {
  const image = buildImage(new Rng(7), BS, ["random", "random", "zero", "random", "random"], 18000);
  await Deno.writeFile(sb.path(`${name}.img`), image);
  return await sb.backup([...args, sb.url(`${name}.img`), name]);
}

Deno.test("--json listings: typed rows on stdout, log lines on stderr", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    await Deno.writeTextFile(sb.config, "\n[daily]\ninterval: 1d\nkeep: 2\nsla: 6h\n", { append: true });
    const uid = await backupImage(sb, "vm", ["-t", "daily,b", "-e", "2030-01-02 03:04:05"]);
    const second = await backupImage(sb, "vm");

    const ls = await sb.run(["--json", "ls", "-f", "date,uid,size,size_bytes,valid,protected,tags,expire", "vm"]);
    expectRun(ls, { code: 0 }, "ls");
    assert(ls.stderr.includes("    INFO: [backy2.logging] $ backy2 ") && ls.stderr.includes("Backy complete."));
    const rows = parseRows(ls);
    assertEquals(rows.length, 2);
    const first = rows.find((row) => row.uid === uid)!;
    assertEquals(Object.keys(first), ["date", "uid", "size", "size_bytes", "valid", "protected", "tags", "expire"]);
    assert(ISO.test(first.date as string), `date ${first.date}`);
    assertEquals(
      [first.size, first.size_bytes, first.valid, first.protected, first.tags, first.expire],
      [5, 18000, true, false, ["b", "daily"], "2030-01-02T03:04:05.000000Z"],
    );
    assertEquals(rows.find((row) => row.uid === second)!.expire, null);
    // -s and -r do not apply to JSON: numbers stay numbers.
    assertEquals(parseRows(await sb.run(["--json", "-r", "-s", "ls", "-f", "size_bytes", "vm"]))[0], {
      size_bytes: 18000,
    });
    assertEquals((await sb.run(["--json", "ls", "nosuchname"])).stdout, "[]\n");

    const stats = parseRows(await sb.run(["--json", "stats", uid]));
    assertEquals(stats.length, 1);
    assert(ISO.test(stats[0].date as string) && (stats[0].date as string).endsWith(".000000Z"));
    assertEquals([stats[0]["bytes read"], stats[0]["blocks written"], stats[0].uid], [18000, 4, uid]);

    const du = parseRows(await sb.run(["--json", "du", uid]));
    assertEquals(Object.values(du[0]).every((v) => typeof v === "number"), true, "du values are numbers");

    const diff = parseRows(await sb.run(["--json", "diff-meta", uid, second]));
    assertEquals(diff, [0, 1, 2, 3, 4].map((block) => ({ block, status: "same" })));

    const due = parseRows(await sb.run(["--json", "due", "-s", "daily"], { env: { BACKY2_FAKE_NOW: "2099-01-01" } }));
    assertEquals(due.length, 1);
    assertEquals([due[0].name, due[0].schedulers], ["vm", ["daily"]]);
    assert(ISO.test(due[0].expire_date as string) && ISO.test(due[0].due_since as string), "due dates");
    const sla = parseRows(await sb.run(["--json", "sla", "-s", "daily"], { env: { BACKY2_FAKE_NOW: "2099-01-01" } }));
    assert(sla.some((row) => row.name === "vm" && /^daily: /.test(row.breach as string)), JSON.stringify(sla));

    // -v lines go to stderr too.
    const verbose = await sb.run(["-v", "--json", "ls"]);
    assert(verbose.stderr.includes("   DEBUG: [backy2.logging] "), "debug lines on stderr");
    assertEquals(parseRows(verbose).length, 2);
  });
});

Deno.test("--json results of backup, restore, scrub and cleanup carry uid, counters and durations", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const image = buildImage(new Rng(3), BS, ["random", "random", "zero", "random"], 4 * BS);
    await Deno.writeFile(sb.path("disk.img"), image);
    const backup = await sb.run(["--json", "backup", sb.url("disk.img"), "vm"]);
    expectRun(backup, { code: 0 }, "backup");
    const made = parseResult(backup);
    assert(UID.test(made.uid as string), "uid");
    assertEquals([made.command, made.name], ["backup", "vm"]);
    assertEquals(made.counters, {
      size_bytes: 4 * BS,
      size_blocks: 4,
      bytes_read: 4 * BS,
      blocks_read: 4,
      bytes_written: 3 * BS,
      blocks_written: 3,
      bytes_dedup: 0,
      blocks_dedup: 0,
      // A block of zeros that was read is recorded sparse, but only hinted sparse blocks count as such.
      bytes_sparse: 0,
      blocks_sparse: 0,
      // Random blocks do not compress: they are stored as they are.
      bytes_stored: 3 * BS,
    });
    assertEquals(made.invalid_blocks, []);
    assertEquals(made.error, undefined);

    const restore = await sb.run(["--json", "restore", made.uid as string, sb.url("out.img")]);
    expectRun(restore, { code: 0 }, "restore");
    assertEquals(parseResult(restore).counters, {
      blocks_written: 3,
      bytes_written: 3 * BS,
      blocks_sparse: 1,
      bytes_sparse: BS,
      blocks_missing: 0,
    });

    const scrub = parseResult(await sb.run(["--json", "scrub", made.uid as string]));
    assertEquals([scrub.uid, scrub.name, scrub.invalid_blocks], [made.uid, "vm", []]);
    assertEquals(scrub.counters, { checked: 3, bytes_read: 3 * BS, invalid_blobs: 0, source_mismatches: 0 });

    expectRun(await sb.run(["rm", "-f", made.uid as string]), { code: 0 }, "rm");
    const cleanup = parseResult(await sb.run(["--json", "cleanup", "--dangerous-force"]));
    assertEquals([cleanup.mode, cleanup.counters], ["fast", { blobs_deleted: 3 }]);

    // Commands without counters end with the plain result object.
    const initdb = parseResult(await sb.run(["--json", "protect", "nosuch"]));
    assertEquals([initdb.command, initdb.counters], ["protect", undefined]);
  });
});

Deno.test("--json failures: the result object has the exit code, the error and the invalid blocks", async () => {
  await withSandbox({ blockSize: BS }, async (sb) => {
    const image = buildImage(new Rng(5), BS, ["random", "random", "random"], 3 * BS);
    await Deno.writeFile(sb.path("disk.img"), image);
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    const blob = (await sb.blobs()).find((path) => sameBytes(Deno.readFileSync(path), image.subarray(BS, 2 * BS)))!;
    const data = await Deno.readFile(blob);
    data[10] ^= 0xff;
    await Deno.writeFile(blob, data);
    const blobUid = blob.slice(blob.lastIndexOf("/") + 1, -".blob".length);

    const restore = await sb.run(["--json", "restore", uid, sb.url("out.img")]);
    expectRun(restore, { code: 6 }, "restore");
    const restored = parseResult(restore);
    assertEquals(restored.error, "Some blocks could not be read or failed their checksum.");
    const [bad] = restored.invalid_blocks as Json[];
    assertEquals([bad.block, bad.blob_uid], [1, blobUid]);
    assert(/^checksum mismatch \(is: \w+ should-be: \w+\)$/.test(bad.reason as string), `reason: ${bad.reason}`);

    const scrub = await sb.run(["--json", "scrub", uid]);
    expectRun(scrub, { code: 20 }, "scrub");
    const scrubbed = parseResult(scrub);
    assertEquals(scrubbed.error, `Marked version invalid because it has errors: ${uid}`);
    assertEquals((scrubbed.invalid_blocks as Json[]).map((b) => [b.block, b.blob_uid]), [[1, blobUid]]);

    const missing = await sb.run(["--json", "restore", "nosuchuid", sb.url("x.img")]);
    expectRun(missing, { code: 100 }, "unknown uid");
    assertEquals(parseResult(missing).error, "'Version nosuchuid not found.'");

    const badField = await sb.run(["--json", "ls", "-f", "bogus"]);
    expectRun(badField, { code: 100 }, "unknown field");
    assertEquals([parseResult(badField).command, parseResult(badField).error], ["ls", "'bogus'"]);

    const both = await sb.run(["--json", "-m", "ls"]);
    expectRun(both, {
      code: 2,
      stdout: "",
      stderr: /\nbacky2: error: argument --json: not allowed with argument -m\/--machine-output\n$/,
    });

    const config = await sb.run(["--json", "-c", sb.path("nosuch.cfg"), "ls"]);
    expectRun(config, { code: 1 }, "missing config");
    assertEquals(parseResult(config).command, "ls");
  });
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
