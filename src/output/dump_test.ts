/** Unit tests of the metadata dump formats: 2.12 as backy2 writes it, the older formats, and deno-1. */
import assert from "node:assert/strict";
import { DumpError, parseDump, renderDump212, renderDumpDeno } from "./dump.ts";
import type { BlockRecord, StatsRow, Version } from "../catalog/catalog.ts";

const UID = "6df58732-e9a1-11f1-aa6b-02fc00000001";

const VERSION: Version = {
  uid: UID,
  date: "2026-11-26 13:58:16.101662",
  expire: "2020-01-02 03:04:05.000000",
  name: "myvm",
  snapshotName: 'snap "1", again',
  size: 3,
  sizeBytes: 9000,
  valid: true,
  protected: false,
  tags: ["daily", "manual"],
  inProgress: false,
  blockSize: 4096,
  hashFunction: "sha512",
};

const BLOCKS: BlockRecord[] = [
  {
    id: 0,
    uid: "e0466faf7dFGd3KrcZLFai8rrckRsuMB",
    checksum: "9bee",
    size: 4096,
    valid: true,
    encVersion: 1,
    encEnvkey: "9eae",
    encNonce: "65a1",
    date: "2026-11-26 13:58:16.201662",
  },
  {
    id: 1,
    uid: null,
    checksum: null,
    size: 4096,
    valid: true,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    date: "2026-11-26 13:58:16.101662",
  },
  {
    id: 2,
    uid: "a4c0664042fNzoNXRxvaZ4QQXg5HFA6y",
    checksum: "ecd4",
    size: 808,
    valid: false,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    date: "2026-11-26 13:58:17.000001",
  },
];

const DUMP_212 = "backy2 Version 2.12 metadata dump\r\n" +
  `${UID},2026-11-26 13:58:16,myvm,"snap ""1"", again",3,9000,1,0,2020-01-02\r\n` +
  `e0466faf7dFGd3KrcZLFai8rrckRsuMB,${UID},0,2026-11-26 13:58:16,9bee,4096,1,1,9eae,65a1\r\n` +
  `,${UID},1,2026-11-26 13:58:16,,4096,1,0,,\r\n` +
  `a4c0664042fNzoNXRxvaZ4QQXg5HFA6y,${UID},2,2026-11-26 13:58:17,ecd4,808,0,0,,\r\n`;

Deno.test("the 2.12 dump is backy2's: second dates, date-only expire, minimal quoting, empty sparse fields", () => {
  assert.deepEqual(renderDump212(VERSION, BLOCKS), DUMP_212);
});

Deno.test("a 2.12 dump reads back with second dates, midnight expire, no tags and `\\x` nonces as null", () => {
  const dump = parseDump(DUMP_212.replace(",65a1\r\n", ",\\x\r\n"));
  assert.equal(dump.format, "2.12");
  const { inProgress: _, blockSize: _size, hashFunction: _hash, ...version } = VERSION;
  assert.deepEqual(dump.version, {
    ...version,
    date: "2026-11-26 13:58:16.000000",
    expire: "2020-01-02 00:00:00.000000",
    tags: [],
  });
  assert.deepEqual(dump.blocks.map((b) => [b.uid, b.encNonce, b.date, b.valid]), [
    ["e0466faf7dFGd3KrcZLFai8rrckRsuMB", null, "2026-11-26 13:58:16.000000", true],
    [null, null, "2026-11-26 13:58:16.000000", true],
    ["a4c0664042fNzoNXRxvaZ4QQXg5HFA6y", null, "2026-11-26 13:58:17.000000", false],
  ]);
});

Deno.test("the 2.1, 2.2 and 2.10 dumps default what they lack and import blocks without encryption", () => {
  const block = `b,${UID},0,2026-11-26 13:58:16,c,4096,1\r\n`;
  const v21 = parseDump(`backy2 Version 2.1 metadata dump\r\n${UID},2026-11-26 13:58:16,vm,1,4096,0\r\n${block}`);
  assert.deepEqual([v21.version.snapshotName, v21.version.protected, v21.version.valid, v21.version.expire], [
    "",
    false,
    false,
    null,
  ]);
  assert.deepEqual(v21.blocks[0], {
    id: 0,
    uid: "b",
    checksum: "c",
    size: 4096,
    valid: true,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    date: "2026-11-26 13:58:16.000000",
  });
  const v22 = parseDump(`backy2 Version 2.2 metadata dump\r\n${UID},2026-11-26 13:58:16,vm,s,1,4096,1,1\r\n${block}`);
  assert.deepEqual([v22.version.snapshotName, v22.version.protected, v22.version.expire], ["s", true, null]);
  const v210 = parseDump(
    `backy2 Version 2.10 metadata dump\r\n${UID},2026-11-26 13:58:16,vm,s,1,4096,1,1,2021-03-04\r\n${block}`,
  );
  assert.equal(v210.version.expire, "2021-03-04 00:00:00.000000");
});

Deno.test("a deno-1 dump keeps every field: tags, expire time, microseconds, flags and stats", () => {
  const stats: StatsRow[] = [{
    date: "2026-11-26 13:58:17",
    versionUid: UID,
    versionName: "myvm",
    versionSizeBytes: 9000,
    versionSizeBlocks: 3,
    bytesRead: 9000,
    blocksRead: 3,
    bytesWritten: 4904,
    blocksWritten: 2,
    bytesFoundDedup: 0,
    blocksFoundDedup: 0,
    bytesSparse: 4096,
    blocksSparse: 1,
    durationSeconds: 1,
    bytesStored: 4946,
  }];
  const blocks = BLOCKS.map((block, i) => ({ ...block, storedSize: [4138, null, 808][i] }));
  const text = renderDumpDeno(VERSION, blocks, stats);
  const { inProgress: _, ...version } = VERSION;
  assert.deepEqual(parseDump(text), { format: "deno-1", version, blocks, stats });
  // A deno-1 dump written before stored sizes were recorded leaves them unknown.
  const older = text.replaceAll(/,"storedSize":(null|\d+)/g, "").replace(',"bytesStored":4946', "");
  const parsed = parseDump(older);
  assert.deepEqual([parsed.blocks.map((b) => b.storedSize), parsed.stats[0].bytesStored], [[null, null, null], null]);
});

Deno.test("dumps carry codec ids: deno-1 keeps zstd, 2.12 refuses it, import refuses ids nobody knows", () => {
  const zstd: BlockRecord[] = [BLOCKS[0], BLOCKS[1], { ...BLOCKS[2], encVersion: 2, storedSize: 300 }];
  assert.deepEqual(parseDump(renderDumpDeno(VERSION, zstd, [])).blocks[2].encVersion, 2);
  assert.throws(() => renderDump212(VERSION, zstd), {
    name: "DumpError",
    message: `Version ${UID} has blocks stored with codec 2 (zstd), which backy2 2.13.8 cannot read, so a 2.12 ` +
      "dump cannot describe it; export it in the lossless format with -F deno-1.",
  });
  const known = "(0 (plain), 1 (encryption version 1), 2 (zstd))";
  const deno = renderDumpDeno(VERSION, [{ ...BLOCKS[2], encVersion: 7 }], []);
  assert.deepEqual(failure(deno), `Line 3: enc_version 7 is not a codec this backy2 knows ${known}.`);
  const csv = renderDump212(VERSION, BLOCKS).replace(",0,,\r\n", ",7,,\r\n");
  assert.deepEqual(failure(csv), `Line 4: enc_version 7 is not a codec this backy2 knows ${known}.`);
});

/** The message parseDump refuses `text` with. */
function failure(text: string): string {
  try {
    parseDump(text);
  } catch (error) {
    assert.ok(error instanceof DumpError, String(error));
    return error.message;
  }
  assert.fail("parseDump accepted the text");
}

Deno.test("malformed dumps are refused with a message naming the line", () => {
  assert.equal(failure("backy2 Version 2.13 metadata dump\r\n"), "Wrong import format.");
  assert.equal(failure("backy2 Version 2.12 metadata dump\r\n"), "The dump has no version row.");
  const head = `backy2 Version 2.12 metadata dump\r\n${UID},2026-11-26 13:58:16,vm,,2,8192,1,0,\r\n`;
  assert.equal(
    failure(`${head}b,${UID},x,2026-11-26 13:58:16,c,4096,1,0,,\r\n`),
    "Line 3: id must be a non-negative integer, not 'x'.",
  );
  assert.equal(
    failure(`${head}b,${UID},0,2026-11-26,c,4096,1,0,,\r\n`),
    "Line 3: bad date: time data '2026-11-26' does not match format '%Y-%m-%d %H:%M:%S'.",
  );
  assert.equal(
    failure(`${head}\r\nb,${UID},2,2026-11-26 13:58:16,c,4096,1,0,,\r\n`),
    "Line 4: block id 2 is outside the version's 2 blocks.",
  );
  const deno = renderDumpDeno(VERSION, BLOCKS, []).split("\n");
  deno[3] = deno[3].replace('"size":4096', '"size":"4096"');
  assert.equal(failure(deno.join("\n")), "Line 4: size must be a non-negative integer.");
  deno[2] = "{not json";
  assert.equal(failure(deno.join("\n")), "Line 3: not a JSON object.");
});
