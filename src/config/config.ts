/**
 * The typed, validated configuration every command starts from.
 *
 * Owns: layering the embedded default and the config files, checking every key the tool uses up front
 * (so a bad setting fails at startup with one line naming file, section and key, never a stack trace),
 * and the lazily read parts: the rbd settings and the scheduler sections of `due`/`sla`.
 */

import { homeDirectory } from "../util/paths.ts";
import { BackyError } from "../util/errors.ts";
import { type IniFile, type IniLayered, mergeIni } from "./ini.ts";
import { defaultDataDir, EMBEDDED_DEFAULT_NAME, embeddedDefault } from "./embedded.ts";
import { type ConfigSection, expandPath, LayeredSection, parseInteger, type PathBase } from "./section.ts";
import { readConfigFile, readSearchPath, SYSTEM_SEARCH_PATH, userSearchPath } from "./sources.ts";
import { readS3Settings, readSeconds, type S3Settings } from "./s3_config.ts";
import { type DataBackendType, isDataBackendType } from "../store/registry.ts";

export type { ConfigSection } from "./section.ts";
export { defaultDataDir } from "./embedded.ts";

export type { DataBackendType } from "../store/registry.ts";
export type { S3Settings } from "./s3_config.ts";

/** `[DataBackend] compression`: what new unencrypted blobs get. */
export type Compression = "zstd" | "none";

export interface IoLimits {
  simultaneousReads: number;
  simultaneousWrites: number;
}

export interface RbdSettings extends IoLimits {
  cephConffile: string;
  clusterName: string;
  radosName: string;
  /** librbd feature constant names, e.g. `RBD_FEATURE_LAYERING`. */
  newImageFeatures: string[];
}

export interface SchedulerSettings {
  /** Seconds. */
  interval: number;
  keep: number;
  /** Seconds. */
  sla: number;
}

export interface Config {
  /** Files that were read, in order (empty when only the embedded default applies). */
  files: string[];
  /** True when no config file provided a [MetaBackend]/[DataBackend] and the embedded per-user default is used. */
  embeddedDefault: boolean;
  defaults: {
    logfile: string;
    blockSize: number;
    /** A `node:crypto` hash name (Python hashlib spellings such as `sha3_256` are translated). */
    hashFunction: string;
    /** Empty disables locking. */
    lockDir: string;
    processName: string;
    disallowRmWhenYoungerThanDays: number;
    deduplication: boolean;
    encryptionVersion: number;
    encryptionKey: Uint8Array | null;
    cachedir: string;
    /** The node_exporter textfile-collector directory that gets `backy2.prom`; empty = no metrics. */
    metricsDir: string;
  };
  meta: {
    type: string;
    engine: string;
    /** file path for sqlite engines; null for postgresql ones */
    sqlitePath: string | null;
    /**
     * With a PostgreSQL catalog: seconds a host's lock lease lasts without a heartbeat (`lease_seconds`);
     * another host may break a lease older than this.
     */
    leaseSeconds: number;
  };
  data: {
    type: DataBackendType;
    /** Absolute for the file backend; may be empty for the others. */
    path: string;
    simultaneousWrites: number;
    simultaneousReads: number;
    bandwidthRead: number;
    bandwidthWrite: number;
    /**
     * `cleanup --full` removes an unreferenced blob only when it is older than this (`cleanup_grace_hours`;
     * 24 h on S3, where several hosts may share a bucket; 0 elsewhere).
     */
    cleanupGraceSeconds: number;
    /** The S3 settings of an s3 or minio backend; null for the others. */
    s3: S3Settings | null;
    /** zstd for new unencrypted blobs (encryption version 1 always compresses), or none. */
    compression: Compression;
    /** zstd level of `compression: zstd`. */
    compressionLevel: number;
    /** The whole [DataBackend] section. */
    section: ConfigSection;
  };
  ioFile: IoLimits;
  ioNull: IoLimits;
  /** Validated lazily: only an rbd:// URL needs ceph_conffile and new_image_features. */
  ioRbd(): RbdSettings;
  /**
   * A scheduler section: interval and sla in seconds (`{integer}{s|m|h|d}` in the file). Unknown section →
   * `No section: 'NAME'`, bad timedelta → `Unknown timedelta format: VALUE`; these and other scheduler errors
   * exit 100.
   */
  scheduler(name: string): SchedulerSettings;
  /** Any section, e.g. for keys a backend reads itself. */
  section(name: string): ConfigSection;
}

export interface LoadConfigOptions {
  /** `-c FILE`; absent means the search path (backy2 also searched for an empty one; that is an error here). */
  configFile?: string;
  /** Defaults to the process environment. */
  env?: Record<string, string | undefined>;
  /** Defaults to the process uid. */
  uid?: number | null;
  /** Defaults to the process working directory. */
  cwd?: string;
  /** Defaults to `$HOME`, then the account's home directory. */
  home?: string;
  /**
   * The system part of the search path; defaults to {@link SYSTEM_SEARCH_PATH}.
   * `~/.backy.cfg` and `./backy.cfg` always follow it.
   */
  searchPath?: readonly string[];
}

const META_BACKEND_SQL = "backy2.meta_backends.sql";
const DATA_BACKEND_PREFIX = "backy2.data_backends.";
const ENCRYPTION_VERSIONS = [0, 1];
const COMPRESSIONS: readonly Compression[] = ["zstd", "none"];
/** zstd's regular levels; 20 to 22 need far more memory per block. */
const COMPRESSION_LEVELS = { min: 1, max: 19 };
/**
 * Level 3, by measurement on a 2 GiB ext4 image of /usr/share (716 MiB of data in 4 MiB blocks, libzstd, two
 * cores): the store takes 238 MiB of blob bytes at level 1 and 214 MiB at level 3; measured as `du` of the data
 * directory beside restic's repository in one bench run (2026-12-01), level 1 took 251 MiB against restic's
 * 242, so only level 3 keeps the store below restic's. It costs about 6.6 CPU-seconds per first backup of the
 * image against 4.7 at level 1 (3.2 without compression; medians of 7 runs).
 */
const DEFAULT_COMPRESSION_LEVEL = 3;
const ENCRYPTION_KEY_TEXT = "You must provide a 32-byte long encryption-key in your configuration.";
const TIMEDELTA_UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Python `hashlib` attribute names whose `node:crypto` spelling differs. */
const PYTHON_HASH_NAMES = new Map<string, string>([
  ["blake2b", "blake2b512"],
  ["blake2s", "blake2s256"],
  ["sha3_224", "sha3-224"],
  ["sha3_256", "sha3-256"],
  ["sha3_384", "sha3-384"],
  ["sha3_512", "sha3-512"],
]);

/** Parses `<integer><s|m|h|d>` into seconds. */
export function parseTimedelta(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match) throw new BackyError(`Unknown timedelta format: ${value}`);
  return Number(match[1]) * TIMEDELTA_UNIT_SECONDS[match[2]];
}

/** Reads, layers and validates the configuration (files in the order sources.ts gives). */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? Deno.env.toObject();
  const home = options.home ?? homeDirectory(env);
  const base: PathBase = { home, cwd: options.cwd ?? Deno.cwd() };
  if (options.configFile !== undefined) {
    return buildConfig([readConfigFile(options.configFile, base.cwd)], options.configFile, base);
  }
  const uid = options.uid === undefined ? Deno.uid() : options.uid;
  const embedded = embeddedDefault(defaultDataDir(env, uid, home));
  const systemPath = options.searchPath ?? SYSTEM_SEARCH_PATH;
  const files = readSearchPath([...systemPath, ...userSearchPath(home, base.cwd)]);
  return buildConfig([embedded, ...files], undefined, base);
}

function buildConfig(layers: IniFile[], configFile: string | undefined, base: PathBase): Config {
  const ini = mergeIni(layers);
  const section = (name: string) => new LayeredSection(name, ini, missingKeyFile(layers, name, configFile), base);
  const data = readDataBackend(section("DataBackend"));
  return {
    files: layers.map((layer) => layer.fileName).filter((name) => name !== EMBEDDED_DEFAULT_NAME),
    embeddedDefault: usesEmbeddedCatalogAndData(ini),
    defaults: readDefaults(section("DEFAULTS")),
    meta: readMetaBackend(section("MetaBackend"), base),
    data,
    ioFile: readIoLimits(section("io_file")),
    ioNull: readIoLimits(section("io_null")),
    ioRbd: () => readRbd(section("io_rbd")),
    scheduler: (name) => readScheduler(ini, section(name)),
    section,
  };
}

/** The file a "missing" error should name: the `-c` file, else the last file with that section, else the last file. */
function missingKeyFile(layers: IniFile[], section: string, configFile: string | undefined): string {
  if (configFile !== undefined) return configFile;
  const files = layers.filter((layer) => layer.fileName !== EMBEDDED_DEFAULT_NAME);
  const withSection = files.filter((layer) => layer.sections.has(section));
  return (withSection.at(-1) ?? files.at(-1))?.fileName ?? EMBEDDED_DEFAULT_NAME;
}

function usesEmbeddedCatalogAndData(ini: IniLayered): boolean {
  const fromEmbedded = (section: string, key: string) => ini.raw(section, key)?.file === EMBEDDED_DEFAULT_NAME;
  return fromEmbedded("MetaBackend", "engine") && fromEmbedded("DataBackend", "type") &&
    fromEmbedded("DataBackend", "path");
}

/** 1 GiB: a block is held in memory several times over (read-ahead, hashing), so larger ones cannot work. */
export const MAX_BLOCK_SIZE = 2 ** 30;

function readDefaults(section: ConfigSection): Config["defaults"] {
  const encryptionVersion = readEncryptionVersion(section);
  return {
    logfile: readLogfile(section),
    blockSize: section.integer("block_size", { min: 1, max: MAX_BLOCK_SIZE }),
    hashFunction: readHashFunction(section),
    lockDir: section.path("lock_dir"),
    processName: section.get("process_name") ?? "backy2",
    disallowRmWhenYoungerThanDays: section.integer("disallow_rm_when_younger_than_days", { min: 0, fallback: 0 }),
    deduplication: section.boolean("deduplication", true),
    encryptionVersion,
    encryptionKey: readEncryptionKey(section, encryptionVersion),
    cachedir: section.path("cachedir", "/tmp"),
    metricsDir: section.path("metrics_dir", ""),
  };
}

function readLogfile(section: ConfigSection): string {
  const logfile = section.path("logfile");
  if (logfile === "") throw section.error("logfile", "must not be empty.");
  return logfile;
}

function readHashFunction(section: ConfigSection): string {
  const name = section.get("hash_function") ?? "sha512";
  const nodeName = PYTHON_HASH_NAMES.get(name) ?? name;
  if (!isFixedLengthHash(nodeName)) {
    throw section.error("hash_function", `'${name}' is not a supported hash function (e.g. sha512, sha256, blake2b).`);
  }
  return nodeName;
}

/**
 * Fixed-length digests that both `node:crypto` and OpenSSL know by these names. A fixed list rather than
 * `crypto.getHashes()`: loading `node:crypto` costs every command about 0.1 s of start-up.
 */
const HASH_FUNCTIONS = new Set([
  "md5",
  "sha1",
  "sha224",
  "sha256",
  "sha384",
  "sha512",
  "sha512-224",
  "sha512-256",
  "sha3-224",
  "sha3-256",
  "sha3-384",
  "sha3-512",
  "blake2b512",
  "blake2s256",
  "ripemd160",
]);

/** True for the hash functions a version can be made with (node:crypto names). */
export function isFixedLengthHash(name: string): boolean {
  return HASH_FUNCTIONS.has(name);
}

function readEncryptionVersion(section: ConfigSection): number {
  const version = section.integer("encryption_version", { min: 0 });
  if (!ENCRYPTION_VERSIONS.includes(version)) {
    throw section.error("encryption_version", `unknown encryption version ${version} (supported: 0, 1).`);
  }
  return version;
}

/** Version 1 needs a valid key; with version 0 a valid key is kept (to read old v1 blobs), anything else ignored. */
function readEncryptionKey(section: ConfigSection, version: number): Uint8Array | null {
  const text = section.get("encryption_key");
  const key = text === undefined ? null : decodeHexKey(text);
  if (version === 0 || key) return key;
  if (text === undefined) throw section.error("encryption_key", `missing. ${ENCRYPTION_KEY_TEXT}`);
  throw section.error("encryption_key", `not 64 hexadecimal characters. ${ENCRYPTION_KEY_TEXT}`);
}

function decodeHexKey(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) return null;
  const key = new Uint8Array(32);
  for (let i = 0; i < key.length; i++) key[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return key;
}

function readMetaBackend(section: ConfigSection, base: PathBase): Config["meta"] {
  const type = section.require("type");
  if (type !== META_BACKEND_SQL) throw section.error("type", `MetaBackend type ${type} unsupported.`);
  const engine = section.require("engine");
  const leaseSeconds = readSeconds(section, "lease_seconds", 30, 2);
  return { type, engine, sqlitePath: sqlitePathOf(engine, section, base), leaseSeconds };
}

/**
 * `sqlite:///relative/path` or `sqlite:////absolute/path` (SQLAlchemy URLs) → the database file; null for a
 * PostgreSQL URL (src/catalog/postgres/url.ts reads it).
 */
function sqlitePathOf(engine: string, section: ConfigSection, base: PathBase): string | null {
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^?]*)/.exec(engine);
  if (!url) throw section.error("engine", `'${engine}' is not a database URL (expected sqlite:///PATH).`);
  const dialect = url[1].toLowerCase().split("+")[0];
  if (dialect === "postgresql" || dialect === "postgres") return null;
  if (dialect !== "sqlite") {
    throw section.error("engine", `${dialect} catalogs are not supported (expected sqlite:///PATH).`);
  }
  const database = url[2];
  if (!database.startsWith("/") || database === "/" || database === "/:memory:") {
    throw section.error("engine", `'${engine}' names no database file (expected sqlite:///PATH).`);
  }
  return expandPath(database.slice(1), base);
}

function readDataBackend(section: ConfigSection): Config["data"] {
  const type = readDataBackendType(section);
  const isFile = type === "file";
  const isS3 = type === "s3" || type === "minio";
  return {
    type,
    path: isFile ? readFileBackendPath(section) : section.path("path", ""),
    simultaneousWrites: section.integer("simultaneous_writes", { min: 1, fallback: isFile ? undefined : 1 }),
    simultaneousReads: section.integer("simultaneous_reads", { min: 1, fallback: 1 }),
    bandwidthRead: section.integer("bandwidth_read", { min: 0, fallback: 0 }),
    bandwidthWrite: section.integer("bandwidth_write", { min: 0, fallback: 0 }),
    cleanupGraceSeconds: readSeconds(section, "cleanup_grace_hours", isS3 ? 24 : 0, 0) * 3600,
    s3: isS3 ? readS3Settings(section, type) : null,
    compression: readCompression(section),
    compressionLevel: section.integer("compression_level", {
      ...COMPRESSION_LEVELS,
      fallback: DEFAULT_COMPRESSION_LEVEL,
    }),
    section,
  };
}

function readCompression(section: ConfigSection): Compression {
  const value = section.get("compression") ?? "zstd";
  const known = COMPRESSIONS.find((candidate) => candidate === value.toLowerCase());
  if (!known) throw section.error("compression", `'${value}' is not a compression (use zstd or none).`);
  return known;
}

function readFileBackendPath(section: ConfigSection): string {
  const path = section.path("path");
  if (path === "") throw section.error("path", "must not be empty.");
  return path;
}

function readDataBackendType(section: ConfigSection): DataBackendType {
  const type = section.require("type");
  const short = type.startsWith(DATA_BACKEND_PREFIX) ? type.slice(DATA_BACKEND_PREFIX.length) : "";
  if (!isDataBackendType(short)) throw section.error("type", `DataBackend type ${type} unsupported.`);
  return short;
}

function readIoLimits(section: ConfigSection, readsFallback = 1): IoLimits {
  return {
    simultaneousReads: section.integer("simultaneous_reads", { min: 1, fallback: readsFallback }),
    simultaneousWrites: section.integer("simultaneous_writes", { min: 1, fallback: 1 }),
  };
}

function readRbd(section: ConfigSection): RbdSettings {
  return {
    cephConffile: section.path("ceph_conffile"),
    clusterName: section.get("cluster_name") ?? "ceph",
    radosName: section.get("rados_name") ?? "client.admin",
    ...readIoLimits(section, 10),
    newImageFeatures: readRbdFeatures(section),
  };
}

function readRbdFeatures(section: ConfigSection): string[] {
  const features = section.require("new_image_features").split(/\s+/).filter((word) => word !== "");
  if (features.length === 0) throw section.error("new_image_features", "lists no features.");
  const bad = features.find((feature) => !/^RBD_FEATURE_[A-Z0-9_]+$/.test(feature));
  if (bad) throw section.error("new_image_features", `'${bad}' is not an RBD_FEATURE_* name.`);
  return features;
}

/** Scheduler errors happen inside a command, so they are ordinary command failures (exit 100). */
function readScheduler(ini: IniLayered, section: ConfigSection): SchedulerSettings {
  if (!ini.hasSection(section.name)) throw new BackyError(`No section: '${section.name}'`);
  const option = (key: string) => {
    const value = section.get(key);
    if (value === undefined) throw new BackyError(`No option '${key}' in section: '${section.name}'`);
    return value;
  };
  const interval = parseTimedelta(option("interval"));
  const keepText = option("keep");
  const keep = parseInteger(keepText);
  if (keep === undefined || keep < 0) {
    throw new BackyError(section.error("keep", `'${keepText}' is not a non-negative integer.`).message);
  }
  return { interval, keep, sla: parseTimedelta(option("sla")) };
}
