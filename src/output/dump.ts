/**
 * Version metadata dumps: writing backy2's current format 2.12 byte for byte, writing our
 * lossless `deno-1` format, and reading both plus backy2's older formats 2.1, 2.2 and 2.10.
 *
 * 2.12 is CSV (see csv.ts): the signature row, one version row, one row per block ordered by id. It drops
 * tags, stats, the time of day of expire and the microseconds of every date. `deno-1` keeps all of them:
 * the signature line, then one JSON object per line (the version with its tags and stats, then each block).
 *
 * Reading validates the whole dump before anything is imported: a wrong signature, a row with the wrong
 * number of fields, a bad date or integer, a codec id (enc_version) this tool does not know, a block of
 * another version or a repeated or out-of-range block id is a {@link DumpError} naming the line.
 *
 * A 2.12 dump is for backy2 2.13.8, so it cannot name blobs of a codec backy2 cannot read (zstd without
 * encryption): {@link renderDump212} refuses such a version and points at deno-1, which keeps every codec id.
 */
import type { BlockRecord, CatalogTime, ImportedVersion, StatsRow, Version } from "../catalog/catalog.ts";
import { csvRow, parseCsv } from "./csv.ts";
import { formatCatalogDateTime, formatDate, formatDateTime, parseCatalogDateTime, strptime } from "./dates.ts";
import { pyRepr } from "./pystr.ts";
import { isFixedLengthHash } from "../config/config.ts";
import { codecById, knownCodecs } from "../store/codecs.ts";

export const DUMP_FORMATS = ["2.12", "deno-1"] as const;
export type DumpFormat = typeof DUMP_FORMATS[number];

const signature = (format: string) => `backy2 Version ${format} metadata dump`;
export const DENO_SIGNATURE = "backy2-deno Version 1 metadata dump";

/** A dump as read: the version, its blocks and (deno-1 only) its stats rows. */
export interface Dump {
  /** The format it was read in: `2.1`, `2.2`, `2.10`, `2.12` or `deno-1`. */
  format: string;
  version: ImportedVersion;
  blocks: BlockRecord[];
  stats: StatsRow[];
}

/** A dump that cannot be imported; the message is one line for the user. */
export class DumpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DumpError";
  }
}

// ---- Writing ----

/** The 2.12 dump of a version, as `backy2 export` writes it into a file; throws {@link DumpError}. */
export function renderDump212(version: Version, blocks: BlockRecord[]): string {
  const unreadable = blocks.find((block) => block.uid !== null && !codecById(block.encVersion)?.backy2Reads);
  if (unreadable) {
    const name = codecById(unreadable.encVersion)?.name ?? "unknown";
    throw new DumpError(
      `Version ${version.uid} has blocks stored with codec ${unreadable.encVersion} (${name}), which backy2 ` +
        "2.13.8 cannot read, so a 2.12 dump cannot describe it; export it in the lossless format with -F deno-1.",
    );
  }
  const rows = [csvRow([signature("2.12")]), csvRow(versionRow212(version))];
  for (const block of blocks) rows.push(csvRow(blockRow212(version.uid, block)));
  return rows.join("");
}

const flag = (value: boolean) => (value ? 1 : 0);
const display = (time: CatalogTime) => formatDateTime(parseCatalogDateTime(time));

function versionRow212(v: Version): (string | number)[] {
  const expire = v.expire === null ? "" : formatDate(parseCatalogDateTime(v.expire));
  return [
    v.uid,
    display(v.date),
    v.name,
    v.snapshotName,
    v.size,
    v.sizeBytes,
    flag(v.valid),
    flag(v.protected),
    expire,
  ];
}

function blockRow212(versionUid: string, b: BlockRecord): (string | number)[] {
  return [
    b.uid ?? "",
    versionUid,
    b.id,
    display(b.date),
    b.checksum ?? "",
    b.size,
    flag(b.valid),
    b.encVersion,
    b.encEnvkey ?? "",
    b.encNonce ?? "",
  ];
}

/** The lossless deno-1 dump: signature line, the version (with tags and stats) and one line per block. */
export function renderDumpDeno(version: Version, blocks: BlockRecord[], stats: StatsRow[]): string {
  const { inProgress: _, ...fields } = version;
  const lines = [DENO_SIGNATURE, JSON.stringify({ ...fields, stats })];
  for (const block of blocks) lines.push(JSON.stringify(block));
  return lines.join("\n") + "\n";
}

// ---- Reading ----

/** Reads a dump of any known format; throws {@link DumpError}. */
export function parseDump(text: string): Dump {
  if (text.split("\n", 1)[0].replace(/\r$/, "") === DENO_SIGNATURE) return parseDenoDump(text);
  const records = parseCsv(text);
  const format = records.length ? CSV_FORMATS.get(records[0].fields[0]) : undefined;
  if (format === undefined) throw new DumpError("Wrong import format.");
  const [, versionRecord, ...blockRecords] = records;
  if (versionRecord === undefined) throw new DumpError("The dump has no version row.");
  const row = new Row(versionRecord.line, versionRecord.fields);
  const version = format.version(row);
  const blocks = blockRecords.map((record) => format.block(new Row(record.line, record.fields), version.uid));
  checkBlockIds(version, blocks, blockRecords.map((record) => record.line));
  return { format: format.name, version, blocks, stats: [] };
}

/** One CSV row being read, for messages that name the line and the field. */
class Row {
  constructor(readonly line: number, readonly fields: string[]) {}

  fail(message: string): never {
    throw new DumpError(`Line ${this.line}: ${message}`);
  }

  expectFields(kind: string, format: string, names: readonly string[]): void {
    if (this.fields.length !== names.length) {
      this.fail(
        `the ${kind} row has ${this.fields.length} fields; format ${format} has ${names.length} ` +
          `(${names.join(", ")}).`,
      );
    }
  }

  text(index: number): string {
    return this.fields[index];
  }

  /** The field, or null when it is empty. */
  optional(index: number): string | null {
    return this.fields[index] === "" ? null : this.fields[index];
  }

  integer(index: number, name: string): number {
    const text = this.fields[index].trim();
    if (!/^\d{1,15}$/.test(text)) {
      this.fail(`${name} must be a non-negative integer, not ${pyRepr(this.fields[index])}.`);
    }
    return Number(text);
  }

  flag(index: number, name: string): boolean {
    return this.integer(index, name) !== 0;
  }

  /** A `%Y-%m-%d %H:%M:%S` (or with `dateOnly`, `%Y-%m-%d`) date as catalog text. */
  date(index: number, name: string, dateOnly = false): CatalogTime {
    const parsed = parseDate(this.fields[index], dateOnly ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S");
    if (!parsed.ok) this.fail(`bad ${name}: ${parsed.text}.`);
    return parsed.text;
  }
}

/** Parsed dates by format and text: a dump's rows share a handful of dates, and strptime is slow. */
const DATE_CACHE = new Map<string, { ok: boolean; text: string }>();

/** Catalog text of a date (`ok`), or strptime's error message. */
function parseDate(text: string, format: string): { ok: boolean; text: string } {
  const key = `${format}\n${text}`;
  let parsed = DATE_CACHE.get(key);
  if (parsed === undefined) {
    const date = strptime(text, format);
    parsed = typeof date === "string" ? { ok: false, text: date } : { ok: true, text: formatCatalogDateTime(date) };
    if (DATE_CACHE.size > 10000) DATE_CACHE.clear();
    DATE_CACHE.set(key, parsed);
  }
  return parsed;
}

interface CsvFormat {
  name: string;
  version(row: Row): ImportedVersion;
  block(row: Row, versionUid: string): BlockRecord;
}

const VERSION_FIELDS: Record<string, readonly string[]> = {
  "2.1": ["uid", "date", "name", "size", "size_bytes", "valid"],
  "2.2": ["uid", "date", "name", "snapshot_name", "size", "size_bytes", "valid", "protected"],
  "2.10": ["uid", "date", "name", "snapshot_name", "size", "size_bytes", "valid", "protected", "expire"],
};
VERSION_FIELDS["2.12"] = VERSION_FIELDS["2.10"];

const BLOCK_FIELDS_OLD = ["uid", "version_uid", "id", "date", "checksum", "size", "valid"] as const;
const BLOCK_FIELDS_212 = [...BLOCK_FIELDS_OLD, "enc_version", "enc_envkey", "enc_nonce"] as const;

function csvFormat(name: string): CsvFormat {
  const versionFields = VERSION_FIELDS[name];
  const blockFields = name === "2.12" ? BLOCK_FIELDS_212 : BLOCK_FIELDS_OLD;
  return {
    name,
    version(row) {
      row.expectFields("version", name, versionFields);
      return readVersion(row, versionFields);
    },
    block(row, versionUid) {
      row.expectFields("block", name, blockFields);
      return readBlock(row, versionUid, name === "2.12");
    },
  };
}

const CSV_FORMATS = new Map(["2.1", "2.2", "2.10", "2.12"].map((name) => [signature(name), csvFormat(name)]));

/** A version row by its field names (the formats differ only in which fields they have). */
function readVersion(row: Row, names: readonly string[]): ImportedVersion {
  const at = (name: string) => names.indexOf(name);
  const uid = row.text(at("uid"));
  if (uid === "") row.fail("the version uid is empty.");
  return {
    uid,
    date: row.date(at("date"), "date"),
    expire: at("expire") < 0 || row.text(at("expire")) === "" ? null : row.date(at("expire"), "expire", true),
    name: row.text(at("name")),
    snapshotName: at("snapshot_name") < 0 ? "" : row.text(at("snapshot_name")),
    size: row.integer(at("size"), "size"),
    sizeBytes: row.integer(at("size_bytes"), "size_bytes"),
    valid: row.flag(at("valid"), "valid"),
    protected: at("protected") < 0 ? false : row.flag(at("protected"), "protected"),
    tags: [],
  };
}

function readBlock(row: Row, versionUid: string, encrypted: boolean): BlockRecord {
  if (row.text(1) !== versionUid) {
    row.fail(`the block row belongs to version ${pyRepr(row.text(1))}, but the dump is of version ${versionUid}.`);
  }
  const nonce = encrypted ? row.optional(9) : null;
  return {
    id: row.integer(2, "id"),
    uid: row.optional(0),
    checksum: row.optional(4),
    size: row.integer(5, "size"),
    valid: row.flag(6, "valid"),
    encVersion: encrypted ? knownCodec(row.integer(7, "enc_version"), (message) => row.fail(message)) : 0,
    encEnvkey: encrypted ? row.optional(8) : null,
    // backy2 wrote an empty nonce as the two characters `\x` at times.
    encNonce: nonce === "\\x" ? null : nonce,
    date: row.date(3, "date"),
  };
}

/** A codec id this tool knows; else `fail` with a message naming the known ones. */
function knownCodec(id: number, fail: (message: string) => never): number {
  if (codecById(id) === undefined) fail(`enc_version ${id} is not a codec this backy2 knows (${knownCodecs()}).`);
  return id;
}

/** Every block id must be within the version's blocks and appear once. */
function checkBlockIds(version: ImportedVersion, blocks: BlockRecord[], lines: number[]): void {
  const seen = new Set<number>();
  blocks.forEach((block, i) => {
    const where = `Line ${lines[i]}: block id ${block.id}`;
    if (block.id >= version.size) throw new DumpError(`${where} is outside the version's ${version.size} blocks.`);
    if (seen.has(block.id)) throw new DumpError(`${where} appears more than once.`);
    seen.add(block.id);
  });
}

// ---- deno-1 ----

function parseDenoDump(text: string): Dump {
  const lines = text.split("\n").map((line, i) => ({ line: i + 1, text: line.replace(/\r$/, "") }))
    .filter((entry) => entry.line > 1 && entry.text.trim() !== "");
  const [head, ...rest] = lines;
  if (head === undefined) throw new DumpError("The dump has no version line.");
  const record = new JsonRecord(head.line, head.text);
  const version = readDenoVersion(record);
  const stats = record.array("stats").map((item, i) => readDenoStats(new JsonRecord(head.line, item, i), version));
  const blocks = rest.map((entry) => readDenoBlock(new JsonRecord(entry.line, entry.text)));
  checkBlockIds(version, blocks, rest.map((entry) => entry.line));
  return { format: "deno-1", version, blocks, stats };
}

const CATALOG_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$/;
const STATS_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** One JSON object of a deno-1 dump being read (a line, or an item of the version's stats). */
class JsonRecord {
  private readonly value: Record<string, unknown>;
  private readonly where: string;

  constructor(line: number, source: string | unknown, item?: number) {
    this.where = item === undefined ? `Line ${line}` : `Line ${line}, stats item ${item + 1}`;
    let value = source;
    if (typeof source === "string") {
      try {
        value = JSON.parse(source);
      } catch {
        this.fail("not a JSON object.");
      }
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) this.fail("not a JSON object.");
    this.value = value as Record<string, unknown>;
  }

  fail(message: string): never {
    throw new DumpError(`${this.where}: ${message}`);
  }

  string(key: string): string {
    const value = this.value[key];
    return typeof value === "string" ? value : this.fail(`${key} must be a string.`);
  }

  nullableString(key: string): string | null {
    return this.value[key] === null ? null : this.string(key);
  }

  integer(key: string): number {
    const value = this.value[key];
    return Number.isSafeInteger(value) && (value as number) >= 0
      ? value as number
      : this.fail(`${key} must be a non-negative integer.`);
  }

  has(key: string): boolean {
    return key in this.value;
  }

  nullableInteger(key: string): number | null {
    return this.value[key] === null ? null : this.integer(key);
  }

  boolean(key: string): boolean {
    const value = this.value[key];
    return typeof value === "boolean" ? value : this.fail(`${key} must be true or false.`);
  }

  time(key: string, pattern = CATALOG_TIME): CatalogTime {
    const value = this.string(key);
    if (!pattern.test(value) || Number.isNaN(parseCatalogDateTime(value).getTime())) {
      this.fail(
        `${key} must be a date like ${
          pattern === CATALOG_TIME ? "2024-01-31 12:00:00.000000" : "2024-01-31 12:00:00"
        }.`,
      );
    }
    return value;
  }

  nullableTime(key: string): CatalogTime | null {
    return this.value[key] === null ? null : this.time(key);
  }

  array(key: string): unknown[] {
    const value = this.value[key];
    return Array.isArray(value) ? value : this.fail(`${key} must be a list.`);
  }
}

function readDenoVersion(r: JsonRecord): ImportedVersion {
  const tags = r.array("tags").map((tag) => typeof tag === "string" ? tag : r.fail("tags must be strings."));
  const uid = r.string("uid");
  if (uid === "") r.fail("the version uid is empty.");
  return {
    uid,
    date: r.time("date"),
    expire: r.nullableTime("expire"),
    name: r.string("name"),
    snapshotName: r.string("snapshotName"),
    size: r.integer("size"),
    sizeBytes: r.integer("sizeBytes"),
    valid: r.boolean("valid"),
    protected: r.boolean("protected"),
    tags: [...new Set(tags)].sort(),
    blockSize: r.has("blockSize") ? r.nullableInteger("blockSize") : null,
    hashFunction: r.has("hashFunction") ? readHashFunction(r) : null,
  };
}

/** A dump's hash function must be one this tool can verify blocks with. */
function readHashFunction(r: JsonRecord): string | null {
  const name = r.nullableString("hashFunction");
  if (name !== null && !isFixedLengthHash(name)) r.fail(`hashFunction '${name}' is not a supported hash function.`);
  return name;
}

function readDenoBlock(r: JsonRecord): BlockRecord {
  return {
    id: r.integer("id"),
    uid: r.nullableString("uid"),
    checksum: r.nullableString("checksum"),
    size: r.integer("size"),
    valid: r.boolean("valid"),
    encVersion: knownCodec(r.integer("encVersion"), (message) => r.fail(message)),
    encEnvkey: r.nullableString("encEnvkey"),
    encNonce: r.nullableString("encNonce"),
    storedSize: r.has("storedSize") ? r.nullableInteger("storedSize") : null,
    date: r.time("date"),
  };
}

const STATS_COUNTS = [
  "versionSizeBytes",
  "versionSizeBlocks",
  "bytesRead",
  "blocksRead",
  "bytesWritten",
  "blocksWritten",
  "bytesFoundDedup",
  "blocksFoundDedup",
  "bytesSparse",
  "blocksSparse",
  "durationSeconds",
] as const;

function readDenoStats(r: JsonRecord, version: ImportedVersion): StatsRow {
  if (r.string("versionUid") !== version.uid) r.fail(`versionUid must be ${version.uid}.`);
  const counts = Object.fromEntries(STATS_COUNTS.map((key) => [key, r.integer(key)])) as Record<
    typeof STATS_COUNTS[number],
    number
  >;
  return {
    date: r.time("date", STATS_TIME),
    versionUid: version.uid,
    versionName: r.string("versionName"),
    ...counts,
    bytesStored: r.has("bytesStored") ? r.nullableInteger("bytesStored") : null,
  };
}
