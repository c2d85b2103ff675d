/**
 * Unit tests of the metadata formats. Headers: round trips of every field (nulls, tags, invalid blobs, block
 * dates as runs, no pages), determinism, the size of a 1 TiB version's header, the named errors for a tampered
 * or truncated header, an unknown format version, foreign bytes and a page list that does not fit the size.
 * Page objects: round trips (text and hex fields, sparse and unrecorded entries, a short page), a name that is
 * the content's SHA-256, blobs listed once, and the errors for a wrong name, an unknown format and an entry
 * that names a blob the page does not list.
 */
import assert from "node:assert/strict";
import { PAGE_ENTRIES } from "../catalog/block_pages.ts";
import { MetaFormatError, sha256, toHex } from "./binary.ts";
import { decodeHeader, encodeHeader, HEADER_FORMAT_VERSION, type VersionHeader } from "./header_format.ts";
import { decodePage, encodePage, type PageBlob, PageBuilder, type PageContent } from "./page_format.ts";

function blob(n: number, overrides: Partial<PageBlob> = {}): PageBlob {
  return {
    uid: `${n.toString(16).padStart(8, "0")}`.padEnd(32, "a"),
    checksum: n.toString(16).padStart(128, "0"),
    size: 4096,
    encVersion: 0,
    encEnvkey: null,
    encNonce: null,
    storedSize: 4096,
    ...overrides,
  };
}

const pageName = (n: number) => toHex(sha256(Uint8Array.of(n)));

function header(blocks = 2500): VersionHeader {
  return {
    version: {
      uid: "0f3c5a2e-1b2d-11ef-8000-0242ac120002",
      date: "2024-05-01 10:11:12.123456",
      expire: null,
      name: "web/01 ünï",
      snapshotName: "",
      size: blocks,
      sizeBytes: (blocks - 1) * 4096 + 100,
      valid: true,
      protected: false,
      tags: ["a", "b c"],
      blockSize: 4096,
      hashFunction: "sha512",
    },
    invalidBlobs: [{ uid: blob(3).uid!, checksum: blob(3).checksum }, { uid: "NOT-HEX", checksum: null }],
    blockDates: blocks < 4 ? [] : [[0, "2024-04-20 00:00:00.000000"], [1, "2024-04-20 00:00:00.000000"], [
      blocks - 1,
      "2024-04-21 00:00:00.000001",
    ]],
    pages: Array.from({ length: Math.ceil(blocks / PAGE_ENTRIES) }, (_, i) => pageName(i % 2)),
  };
}

function page(entries = PAGE_ENTRIES): PageContent {
  const builder = new PageBuilder(new Uint32Array(entries));
  const blobs = [
    blob(1),
    { ...blob(0), uid: null, checksum: null, storedSize: null },
    blob(2, { encVersion: 1, encEnvkey: "ab".repeat(40), encNonce: "cd".repeat(16), storedSize: 1234 }),
    blob(3, { checksum: "NOT-HEX-Ünïcode", size: 100, encVersion: 2, storedSize: null }),
  ];
  for (let i = 0; i < entries; i++) {
    if (i % 11 !== 5) builder.set(i, { ...blobs[i % 7 === 0 ? 1 : i % 4] });
  }
  return builder.content();
}

Deno.test("header format: every field survives a round trip", () => {
  for (const sample of [header(), header(1), header(1024), header(2048)]) {
    assert.deepEqual(decodeHeader(encodeHeader(sample)), sample);
  }
  const other = header();
  other.version = { ...other.version, expire: "2030-01-01 00:00:00", protected: true, tags: [], blockSize: null };
  other.version.hashFunction = null;
  other.invalidBlobs = [];
  other.blockDates = [];
  assert.deepEqual(decodeHeader(encodeHeader(other)), other);
  const empty: VersionHeader = { ...header(), pages: [], blockDates: [] };
  empty.version = { ...empty.version, size: 0, sizeBytes: 0 };
  assert.deepEqual(decodeHeader(encodeHeader(empty)), empty);
});

Deno.test("header format: the same version always gives the same bytes; a 1 TiB version's header is a few KiB", () => {
  assert.deepEqual(encodeHeader(header()), encodeHeader(header()));
  const terabyte = header(262144);
  terabyte.blockDates = [];
  const bytes = encodeHeader(terabyte);
  assert.ok(bytes.length < 9000, `${bytes.length} bytes`);
  const dated = header(262144);
  dated.blockDates = Array.from({ length: 262144 }, (_, id) => [id, "2024-04-20 00:00:00.000000"]);
  assert.ok(encodeHeader(dated).length < 9100, "a run of equal dates is one run");
});

Deno.test("header format: a changed or missing byte anywhere is an integrity failure", () => {
  const bytes = encodeHeader(header());
  for (const at of [12, 40, bytes.length >> 1, bytes.length - 40, bytes.length - 1]) {
    const tampered = bytes.slice();
    tampered[at] ^= 0x20;
    assert.throws(
      () => decodeHeader(tampered),
      (error: Error) => error instanceof MetaFormatError && /integrity/.test(error.message),
    );
  }
  for (const length of [bytes.length - 1, bytes.length >> 1, 20]) {
    assert.throws(() => decodeHeader(bytes.subarray(0, length)), /integrity check failed/);
  }
});

Deno.test("header format: an unknown format version and foreign bytes are refused by name", () => {
  const future = encodeHeader(header());
  future[8] = HEADER_FORMAT_VERSION + 1;
  assert.throws(() => decodeHeader(future), /format version 2, which this backy2 does not know/);
  assert.throws(() => decodeHeader(new TextEncoder().encode("hello, world")), /not a version header/);
  assert.throws(() => decodeHeader(new Uint8Array(0)), MetaFormatError);
});

Deno.test("header format: a well-sealed header whose pages do not fit its size is refused", () => {
  const wrong = header();
  wrong.pages.pop();
  assert.throws(() => decodeHeader(encodeHeader(wrong)), /lists 2 pages for 2500 blocks/);
});

Deno.test("page format: every field survives a round trip; the name is the SHA-256 of the bytes", () => {
  for (const sample of [page(), page(1), page(300)]) {
    const { name, bytes } = encodePage(sample);
    assert.equal(name, toHex(sha256(bytes)));
    assert.deepEqual(decodePage(name, bytes), sample);
  }
  assert.equal(page().blobs.length, 4, "each distinct blob is listed once");
  assert.deepEqual(encodePage(page()), encodePage(page()));
  assert.notEqual(encodePage(page()).name, encodePage(page(1023)).name);
});

Deno.test("page format: a page of 1024 distinct blobs stays compact", () => {
  const builder = new PageBuilder(new Uint32Array(PAGE_ENTRIES));
  for (let i = 0; i < PAGE_ENTRIES; i++) builder.set(i, blob(i));
  const { bytes } = encodePage(builder.content());
  assert.ok(bytes.length < PAGE_ENTRIES * 110, `${bytes.length} bytes`);
});

Deno.test("page format: a wrong name, an unknown format, foreign bytes and a stray entry are refused", () => {
  const { name, bytes } = encodePage(page());
  const tampered = bytes.slice();
  tampered[bytes.length >> 1] ^= 1;
  assert.throws(() => decodePage(name, tampered), /integrity check failed/);
  assert.throws(() => decodePage(pageName(9), bytes), /integrity check failed/);
  const future = bytes.slice();
  future[8] = 2;
  assert.throws(() => decodePage(toHex(sha256(future)), future), /format version 2, which this backy2 does not know/);
  assert.throws(() => decodePage(name, new TextEncoder().encode("hello")), /not a page object/);
  const stray = page(3);
  stray.entries[1] = stray.blobs.length + 1;
  const encoded = encodePage(stray);
  assert.throws(() => decodePage(encoded.name, encoded.bytes), /names a blob the page does not list/);
});
