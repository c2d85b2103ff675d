/**
 * CLI tests of compression (the codec layer): zstd blobs by default, the `zstd` tool reads them, blocks that
 * do not shrink and `compression: none` give plain blobs, deduplication across codecs (never onto an
 * unencrypted blob for an encrypting store), one version mixing plain, zstd and v1 blocks, damaged and unknown
 * codecs, stored sizes in the backup log, `du` and `stats`, the dumps, `migrate-compression` and bad settings.
 * The catalog is looked at directly (white box) where the CLI does not show a blob's codec.
 */
import { DatabaseSync } from "node:sqlite";
import {
  assert,
  assertEquals,
  assertFileBytes,
  COMPLETE,
  error,
  expectRun,
  FAILED,
  info,
  parseMachineRows,
  Rng,
  type Sandbox,
  withSandbox,
  writeHints,
} from "./helpers.ts";

const BS = 4096;
const KEY = "3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d";
const WORDS = ["backup", "block", "image", "virtual", "machine", "restore", "scrub", "version", "the", "of", "and"];

/** A block of text-like data that zstd shrinks to about a third, different for every seed. */
function textBlock(seed: number): Uint8Array {
  const rng = new Rng(seed);
  let text = "";
  while (text.length < BS) text += `${rng.pick(WORDS)}${rng.chance(0.1) ? "\n" : " "}`;
  return new TextEncoder().encode(text.slice(0, BS));
}

/** Blocks: "t" text (seeded by its index and `variant`), "r" random, "0" zeros. */
function image(layout: string, variant = 0): Uint8Array {
  const data = new Uint8Array(layout.length * BS);
  [...layout].forEach((kind, id) => {
    const block = data.subarray(id * BS, (id + 1) * BS);
    if (kind === "t") block.set(textBlock(1000 * variant + id + 1));
    else if (kind === "r") new Rng(7919 * variant + id + 1).fill(block);
  });
  return data;
}

function block(data: Uint8Array, id: number): Uint8Array {
  return data.subarray(id * BS, (id + 1) * BS);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Sets `[DataBackend] compression` (and the level) in the sandbox config; undefined removes the keys. */
async function setCompression(sb: Sandbox, compression?: string, level?: string): Promise<void> {
  const lines = (await Deno.readTextFile(sb.config)).split("\n")
    .filter((line) => !line.startsWith("compression:") && !line.startsWith("compression_level:"));
  const settings = [
    ...(compression === undefined ? [] : [`compression: ${compression}`]),
    ...(level === undefined ? [] : [`compression_level: ${level}`]),
  ];
  lines.splice(lines.indexOf("[DataBackend]") + 1, 0, ...settings);
  await Deno.writeTextFile(sb.config, lines.join("\n"));
}

/** Sets `encryption_version` (the key stays configured either way). */
async function setEncryption(sb: Sandbox, version: number): Promise<void> {
  const lines = (await Deno.readTextFile(sb.config)).split("\n")
    .filter((line) => !line.startsWith("encryption_version:") && !line.startsWith("encryption_key:"));
  lines.splice(lines.indexOf("[DEFAULTS]") + 1, 0, `encryption_version: ${version}`, `encryption_key: ${KEY}`);
  await Deno.writeTextFile(sb.config, lines.join("\n"));
}

interface BlobRow {
  uid: string;
  enc_version: number;
  size: number;
  stored_size: number | null;
}

/** Every stored blob's catalog row (white box), by uid. */
function blobRows(sb: Sandbox): Map<string, BlobRow> {
  const db = new DatabaseSync(sb.path("backy.sqlite"), { readOnly: true });
  try {
    const rows = db.prepare("SELECT uid, enc_version, size, stored_size FROM blobs WHERE uid IS NOT NULL").all();
    return new Map((rows as unknown as BlobRow[]).map((row) => [row.uid, row]));
  } finally {
    db.close();
  }
}

function blobPath(sb: Sandbox, uid: string): string {
  return `${sb.dataDir}/${uid.slice(0, 2)}/${uid.slice(2, 4)}/${uid}.blob`;
}

/** The codec id of each block of a version (null for sparse ones), from its lossless dump. */
async function blockCodecs(sb: Sandbox, uid: string): Promise<(number | null)[]> {
  const result = await sb.run(["-m", "export", "-F", "deno-1", uid, "-"]);
  expectRun(result, { code: 0, stderr: "" });
  const blocks = result.stdout.split("\n").slice(2).filter((line) => line.startsWith("{"));
  return blocks.map((line) => JSON.parse(line)).map((block) => block.uid === null ? null : block.encVersion);
}

/** Runs `zstd -d -c` on a file; returns what it decoded. */
async function zstdDecode(path: string): Promise<Uint8Array> {
  const output = await new Deno.Command("zstd", { args: ["-d", "-c", "-q", path], stdout: "piped", stderr: "piped" })
    .output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  return output.stdout;
}

async function backUp(sb: Sandbox, data: Uint8Array, name = "vm", extra: string[] = []): Promise<string> {
  await Deno.writeFile(sb.path("disk.img"), data);
  return await sb.backup([...extra, sb.url("disk.img"), name]);
}

async function restoresTo(sb: Sandbox, uid: string, data: Uint8Array): Promise<void> {
  await sb.restore(uid, `${uid}.img`, ["-f"]);
  await assertFileBytes(sb.path(`${uid}.img`), data, `restore of ${uid}`);
}

async function machine(sb: Sandbox, args: string[]): Promise<Record<string, string>[]> {
  const result = await sb.run(["-m", ...args]);
  expectRun(result, { code: 0, stderr: "" });
  return parseMachineRows(result.stdout);
}

Deno.test("by default text blocks become zstd frames the zstd tool decodes; random blocks stay plain", async () => {
  await withSandbox({}, async (sb) => {
    const data = image("ttr0t");
    const uid = await backUp(sb, data);
    const rows = [...blobRows(sb).values()];
    assertEquals(rows.map((row) => row.enc_version).sort(), [0, 2, 2, 2]);
    for (const row of rows) {
      const file = await Deno.readFile(blobPath(sb, row.uid));
      assertEquals(row.stored_size, file.length, "the catalog records the blob file's size");
      if (row.enc_version === 0) {
        assert(sameBytes(file, block(data, 2)), "the random block, as it is");
        continue;
      }
      assert(file.length < BS / 2, `a text block shrinks (${file.length} bytes)`);
      const plain = await zstdDecode(blobPath(sb, row.uid));
      assert([0, 1, 4].some((id) => sameBytes(plain, block(data, id))), "zstd -d gives one of the text blocks");
    }
    await restoresTo(sb, uid, data);
    expectRun(await sb.run(["scrub", uid]), { code: 0, stderr: "" });
  });
});

Deno.test("compression: none stores every block as it is, as before compression existed", async () => {
  await withSandbox({}, async (sb) => {
    await setCompression(sb, "none");
    const data = image("ttr0t");
    const uid = await backUp(sb, data);
    const rows = [...blobRows(sb).values()];
    assertEquals(rows.map((row) => [row.enc_version, row.stored_size]), [[0, BS], [0, BS], [0, BS], [0, BS]]);
    const files = await Promise.all(rows.map((row) => Deno.readFile(blobPath(sb, row.uid))));
    for (const id of [0, 1, 2, 4]) {
      assert(files.some((file) => sameBytes(file, block(data, id))), `block ${id} is a blob file as it is`);
    }
    await restoresTo(sb, uid, data);
  });
});

Deno.test("the backup's last lines, du and stats show the stored bytes next to the plain ones", async () => {
  await withSandbox({}, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), image("ttr0t"));
    const args = ["backup", sb.url("disk.img"), "vm"];
    const result = await sb.run(args);
    expectRun(result, { code: 0, stderr: "" });
    const stored = [...blobRows(sb).values()].reduce((sum, row) => sum + row.stored_size!, 0);
    assert(stored < 3 * BS, `4 blocks stored in ${stored} bytes`);
    const logged = /^ {4}INFO: \[backy2\.logging\] Wrote 4 blobs: 16 KiB of data stored in (\d+) KiB \((\d+) %\)\.$/m
      .exec(result.stdout);
    assert(logged, result.stdout);
    assertEquals([Number(logged[1]), Number(logged[2])], [
      Math.round(stored / 1024),
      Math.round(stored / 4 / BS * 100),
    ]);
    const uid = (await sb.versions())[0].uid;

    const [du] = await machine(sb, ["du", uid, "-f", "Real,Stored,Est. Space,Est. Stored,Est. Stored freed"]);
    assertEquals(du, {
      Real: String(4 * BS),
      Stored: String(stored),
      "Est. Space": String(4 * BS),
      "Est. Stored": String(stored),
      "Est. Stored freed": String(stored),
    });
    const [stats] = await machine(sb, ["stats", "-f", "bytes written,bytes stored"]);
    assertEquals(stats, { "bytes written": String(4 * BS), "bytes stored": String(stored) });
    // backy2's default columns stay as they were.
    assertEquals(
      Object.keys((await machine(sb, ["du", uid]))[0]).join(","),
      "Real,Null,Dedup Own,Dedup Others," +
        "Individual,Est. Space,Est. Space freed",
    );
    assertEquals(Object.keys((await machine(sb, ["stats"]))[0]).length, 14);
  });
});

Deno.test("a zstd backup reuses the plain blob an older store wrote for the same block", async () => {
  await withSandbox({}, async (sb) => {
    await setCompression(sb, "none");
    const data = image("tttr");
    const old = await backUp(sb, data, "old");
    const plainBlobs = [...blobRows(sb).keys()].sort();
    await setCompression(sb, "zstd");
    const renewed = await backUp(sb, data, "new");
    assertEquals([...blobRows(sb).keys()].sort(), plainBlobs, "no new blob");
    assertEquals(await blockCodecs(sb, renewed), [0, 0, 0, 0]);
    const [stats] = await machine(sb, ["stats", renewed, "-f", "bytes written,bytes stored"]);
    assertEquals(stats, { "bytes written": "0", "bytes stored": "0" });
    await restoresTo(sb, renewed, data);
    await restoresTo(sb, old, data);
  });
});

Deno.test("an encrypting store never deduplicates onto plain or zstd blobs", async () => {
  await withSandbox({}, async (sb) => {
    const data = image("ttr");
    await backUp(sb, data, "zstd");
    assertEquals([...blobRows(sb).values()].map((row) => row.enc_version).sort(), [0, 2, 2]);
    await setEncryption(sb, 1);
    const encrypted = await backUp(sb, data, "encrypted");
    assertEquals(await blockCodecs(sb, encrypted), [1, 1, 1]);
    assertEquals(blobRows(sb).size, 6, "three new blobs");
    await restoresTo(sb, encrypted, data);
  });
});

Deno.test("one version with plain, zstd and v1 blocks restores byte-identical and scrubs clean", async () => {
  await withSandbox({}, async (sb) => {
    // Plain, then encrypted, then zstd: a differential copies its base's references whatever their codec, and
    // the blocks it samples from the base are stored again (encrypted) or deduplicated (onto the plain blob).
    // With 16 blocks, at least 5 are never sampled, so some stay plain in the end.
    await setCompression(sb, "none");
    const first = image("t".repeat(16));
    const a = await backUp(sb, first);
    await setEncryption(sb, 1);
    const second = first.slice();
    second.set(textBlock(501), BS);
    await writeHints(sb.path("hints.json"), [{ offset: BS, length: BS, exists: "true" }]);
    const b = await backUp(sb, second, "vm", ["-f", a, "-r", sb.path("hints.json")]);
    await setEncryption(sb, 0);
    await setCompression(sb, "zstd");
    const third = second.slice();
    third.set(textBlock(502), 2 * BS);
    await writeHints(sb.path("hints.json"), [{ offset: 2 * BS, length: BS, exists: "true" }]);
    const c = await backUp(sb, third, "vm", ["-f", b, "-r", sb.path("hints.json")]);

    assertEquals(await blockCodecs(sb, a), Array(16).fill(0));
    const codecs = await blockCodecs(sb, c);
    assertEquals([codecs[1], codecs[2]], [1, 2], "the block changed under encryption, the one changed under zstd");
    assert(codecs.filter((codec) => codec === 0).length >= 5 && codecs.every((codec) => codec !== null), `${codecs}`);
    for (const [uid, data] of [[a, first], [b, second], [c, third]] as const) {
      await restoresTo(sb, uid, data);
      expectRun(await sb.run(["scrub", uid]), { code: 0, stderr: "" });
    }
  });
});

Deno.test("a damaged zstd blob is found by scrub (exit 20, invalid) and reported by restore (exit 6)", async () => {
  await withSandbox({}, async (sb) => {
    const uid = await backUp(sb, image("ttt"));
    const victim = [...blobRows(sb).values()].find((row) => row.enc_version === 2)!;
    const path = blobPath(sb, victim.uid);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 20));
    const scrub = await sb.run(["scrub", uid]);
    expectRun(scrub, { code: 20 });
    assert(scrub.stderr.includes(`Blob ${victim.uid} is damaged: it does not decompress (`), scrub.stderr);
    assertEquals((await sb.version(uid)).valid, "0");
    const restore = await sb.run(["restore", uid, sb.url("damaged.img")]);
    expectRun(restore, { code: 6 });
    assert(restore.stderr.includes(`Blob ${victim.uid} is damaged: it does not decompress (`), restore.stderr);
  });
});

Deno.test("a blob of a codec id nobody knows stops restore, scrub and migrations with one line, changing nothing", async () => {
  await withSandbox({}, async (sb) => {
    const data = image("tt");
    const uid = await backUp(sb, data);
    const [victim] = [...blobRows(sb).keys()];
    const db = new DatabaseSync(sb.path("backy.sqlite"));
    db.prepare("UPDATE blobs SET enc_version = 7 WHERE uid = ?").run(victim);
    db.close();
    const line = `Blob ${victim} has codec 7 (enc_version), which this backy2 does not know ` +
      "(it knows 0 (plain), 1 (encryption version 1), 2 (zstd)).";
    for (const args of [["restore", uid, sb.url("out.img")], ["scrub", uid], ["migrate-compression", uid]]) {
      const result = await sb.run(args);
      expectRun(result, { code: 100, stderr: error(line) + FAILED }, args[0]);
      assert(!result.stdout.includes("Marked"), result.stdout);
    }
    const versions = await sb.versions();
    assertEquals(versions.map((v) => [v.uid, v.valid]), [[uid, "1"]], "still one valid version");
  });
});

Deno.test("export: a 2.12 dump refuses zstd blocks naming deno-1; deno-1 keeps codec ids; import checks them", async () => {
  await withSandbox({}, async (sb) => {
    const data = image("tr");
    const uid = await backUp(sb, data);
    const args = ["export", uid, sb.path("v.csv")];
    const refused = await sb.run(args);
    const line = `Version ${uid} has blocks stored with codec 2 (zstd), which backy2 2.13.8 cannot read, so a 2.12 ` +
      "dump cannot describe it; export it in the lossless format with -F deno-1.";
    expectRun(refused, { code: 100, stdout: sb.commandLine(args), stderr: error(line) + FAILED });
    assert(!(await exists(sb.path("v.csv"))), "nothing written");

    expectRun(await sb.run(["export", "-F", "deno-1", uid, sb.path("v.deno")]), { code: 0, stderr: "" });
    const dump = await Deno.readTextFile(sb.path("v.deno"));
    expectRun(await sb.run(["rm", "-f", uid]), { code: 0 });
    const bad = dump.replace('"encVersion":2', '"encVersion":9');
    await Deno.writeTextFile(sb.path("bad.deno"), bad);
    const rejected = await sb.run(["import", sb.path("bad.deno")]);
    expectRun(rejected, { code: 23 });
    assert(rejected.stderr.includes("enc_version 9 is not a codec this backy2 knows"), rejected.stderr);
    assertEquals(await sb.versions(), [], "nothing imported");
    expectRun(await sb.run(["import", sb.path("v.deno")]), { code: 0, stderr: "" });
    assertEquals(await blockCodecs(sb, uid), [2, 0]);
    await restoresTo(sb, uid, data);
  });
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("migrate-compression rewrites plain blobs as zstd, keeps those that do not shrink, and frees the rest", async () => {
  await withSandbox({}, async (sb) => {
    await setCompression(sb, "none");
    const data = image("ttr0");
    const old = await backUp(sb, data);
    const plainBlobs = new Set(blobRows(sb).keys());
    await setCompression(sb, "zstd");
    const args = ["migrate-compression", old];
    const result = await sb.run(args);
    const migrated = /Migrated version \S+ to compression zstd\. New version: (\S+)\./.exec(result.stdout)?.[1];
    assert(migrated, result.stdout);
    const line = `Migrated version ${old} to compression zstd. New version: ${migrated}.`;
    expectRun(result, { code: 0, stderr: "", stdout: sb.commandLine(args) + info(line) + COMPLETE });
    assertEquals(await blockCodecs(sb, migrated), [2, 2, 0, null]);
    assert((await sb.version(migrated)).tags.endsWith(",migrated-compression-to-zstd"));
    assertEquals(blobRows(sb).size, 5, "two zstd blobs beside the three plain ones");

    expectRun(await sb.run(["rm", "-f", old]), { code: 0 });
    expectRun(await sb.run(["cleanup", "--dangerous-force"]), { code: 0 });
    const left = [...blobRows(sb).values()];
    assertEquals(left.map((row) => [row.enc_version, plainBlobs.has(row.uid)]).sort(), [[0, true], [2, false], [
      2,
      false,
    ]]);
    assertEquals((await sb.blobs()).length, 3);
    await restoresTo(sb, migrated, data);
    expectRun(await sb.run(["scrub", migrated]), { code: 0, stderr: "" });

    await setEncryption(sb, 1);
    const refused = await sb.run(["migrate-compression", migrated]);
    expectRun(refused, { code: 100 });
    assert(refused.stderr.includes("use migrate-encryption instead"), refused.stderr);
  });
});

Deno.test("bad compression settings are one configuration error line (exit 1) and change nothing", async () => {
  await withSandbox({ catalog: false }, async (sb) => {
    await Deno.writeFile(sb.path("disk.img"), image("t"));
    const cases: [string, string | undefined, string][] = [
      ["lz4", undefined, "compression: 'lz4' is not a compression (use zstd or none)."],
      ["zstd", "0", "compression_level: '0' must be at least 1."],
      ["zstd", "20", "compression_level: '20' must be at most 19."],
    ];
    for (const [compression, level, problem] of cases) {
      await setCompression(sb, compression, level);
      const result = await sb.run(["backup", sb.url("disk.img"), "vm"]);
      expectRun(result, {
        code: 1,
        stdout: "",
        stderr: `Configuration error in ${sb.config}, section [DataBackend], key ${problem}\n`,
      });
    }
    assert(!(await exists(sb.path("backy.sqlite"))) && !(await exists(sb.dataDir)), "no catalog and no blobs");
  });
});
