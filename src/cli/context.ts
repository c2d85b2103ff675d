/**
 * What a command gets: its parsed arguments, the configuration, the log, stdout, and the engine (catalog,
 * block store, sources and targets), which is built only when the command first asks for it.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log/logger.ts";
import { writeAll } from "../log/logger.ts";
import type { Engine } from "../engine/engine.ts";
import { createHasher, type Hasher } from "../engine/hasher.ts";
import { LazyCatalog } from "../catalog/lazy_catalog.ts";
import { catalogKind, openCatalog } from "../catalog/open_catalog.ts";
import type { Catalog, Version } from "../catalog/catalog.ts";
import { LazyStore } from "../store/lazy_store.ts";
import { openBackend } from "../store/registry.ts";
import { ThrottledStore } from "../store/throttled_store.ts";
import { LimitedStore } from "../store/limited_store.ts";
import { CodecStore } from "../store/codec_store.ts";
import { codecFor } from "../store/codecs.ts";
import type { LockManager } from "../lock/lock_manager.ts";
import { openLocks } from "../lock/open_locks.ts";
import { fileLocks } from "../lock/locks.ts";
import { openSqliteCatalog } from "../catalog/sqlite/catalog.ts";
import { Exit } from "../util/errors.ts";
import { Interruption } from "../engine/interruption.ts";
import { openSource, openTarget } from "../io/open.ts";
import { join } from "../util/paths.ts";
import type { ReportFlags } from "../output/report.ts";
import type { JsonValue } from "../output/json.ts";
import { RunReport } from "../engine/run_report.ts";

export type Args = Record<string, string | string[] | boolean | undefined>;

export interface GlobalFlags {
  verbose: boolean;
  debug: boolean;
  machineOutput: boolean;
  skipHeader: boolean;
  humanReadable: boolean;
  /** `--json`: listings and results as JSON on stdout. */
  json: boolean;
  /** `-c FILE` as given, if given. */
  configFile?: string;
}

export class CommandContext {
  private built: Engine | null = null;
  private lazyCatalog: LazyCatalog | null = null;
  private readonly hashers = new Map<string, Hasher>();
  /** The configured block store backend, opened on first use (src/store/registry.ts). */
  private readonly backend: LazyStore;
  readonly locks: LockManager;
  readonly interruption: Interruption;
  /** What the pipelines counted; the `--json` result and the metrics read it. */
  readonly report = new RunReport();
  /** Fields a command adds to its `--json` result object (uid, name, ...). */
  readonly result: Record<string, JsonValue> = {};
  /** True once the command wrote to stdout (a listing under `--json` then needs no result object). */
  printed = false;
  /** The catalog-wide gauges for the metrics, read after the command (src/metrics/write.ts). */
  catalogFacts?: { versions: Version[]; storeBytes: number };
  /** Set by a command that fills a new catalog on purpose (`migrate-catalog`) before it asks for the engine. */
  createsCatalog = false;
  /**
   * `--from-store`: the command works from the block store alone. Its catalog is an empty one in memory, the
   * configured one is never opened (nor are its lock leases), and no metadata object is written.
   */
  readonly catalogInMemory: boolean;

  constructor(
    readonly args: Args,
    readonly flags: GlobalFlags,
    readonly config: Config,
    readonly log: Logger,
    /** The command line as the lock leases record it (`backup file:///... vm`). */
    command = "",
  ) {
    this.catalogInMemory = args.fromStore === true;
    this.locks = this.catalogInMemory
      ? fileLocks(config.defaults.lockDir)
      : openLocks(config, command, (why) => this.leaseLost(why));
    // The command that continues an interrupted job must find the same configuration.
    this.interruption = new Interruption(["backy2", ...(flags.configFile ? ["-c", flags.configFile] : [])]);
    this.backend = new LazyStore(() => openBackend({ config, log }));
  }

  /**
   * Opens the block store now: commands that touch blobs call this before they change anything, so that a
   * store that cannot be used (a missing bucket, wrong keys, an unreachable endpoint) changes nothing.
   */
  async openStore(): Promise<void> {
    await this.backend.open();
  }

  /** For the commands that create a catalog: creates its PostgreSQL database when it is missing. */
  async ensureCatalogDatabase(): Promise<void> {
    if (this.catalogInMemory || this.config.meta.sqlitePath !== null) return;
    const { ensureDatabase } = await import("../catalog/postgres/connect.ts");
    const { parsePgUrl } = await import("../catalog/postgres/url.ts");
    await ensureDatabase(parsePgUrl(this.config.meta.engine));
  }

  /** Writes to stdout as is. */
  print(text: string): void {
    this.printed = true;
    writeAll(Deno.stdout, text);
  }

  get reportFlags(): ReportFlags {
    return {
      machine: this.flags.machineOutput,
      skipHeader: this.flags.skipHeader,
      humanReadable: this.flags.humanReadable,
      json: this.flags.json,
    };
  }

  string(name: string): string | undefined {
    const value = this.args[name];
    return typeof value === "string" ? value : undefined;
  }

  /** A positional that takes any number of words (`[NAME ...]`). */
  strings(name: string): string[] {
    const value = this.args[name];
    return Array.isArray(value) ? value : [];
  }

  flag(name: string): boolean {
    return this.args[name] === true;
  }

  /** The catalog, if the command opened it (nothing is opened just to ask). */
  get openedCatalog(): Catalog | null {
    return this.lazyCatalog?.current ?? null;
  }

  /**
   * Opens the catalog now: commands call this before they change anything, so that a catalog that cannot be
   * used (missing, unreachable, of a newer schema) changes nothing.
   */
  async openCatalog(): Promise<Catalog> {
    await this.catalogOpener().get();
    return this.engine.catalog;
  }

  private catalogOpener(): LazyCatalog {
    const { meta } = this.config;
    this.lazyCatalog ??= this.catalogInMemory
      ? new LazyCatalog("sqlite", () => Promise.resolve(openSqliteCatalog(":memory:", IN_MEMORY)))
      : new LazyCatalog(
        catalogKind(meta),
        () => openCatalog(meta, this.createsCatalog || isFirstUseOfEmbeddedDefault(this.config)),
      );
    return this.lazyCatalog;
  }

  get engine(): Engine {
    this.built ??= this.buildEngine();
    return this.built;
  }

  private buildEngine(): Engine {
    const { config } = this;
    const { catalog } = this.catalogOpener();
    const settings = {
      blockSize: config.defaults.blockSize,
      hashFunction: config.defaults.hashFunction,
      deduplication: config.defaults.deduplication,
      codec: codecFor(config.defaults.encryptionVersion, config.data.compression),
      haveKey: config.defaults.encryptionKey !== null,
      processName: config.defaults.processName,
      readAhead: Math.max(config.data.simultaneousWrites, config.ioFile.simultaneousReads) + 4,
      cleanupGraceSeconds: config.data.cleanupGraceSeconds,
    };
    return {
      settings,
      catalog,
      store: new CodecStore(
        ThrottledStore.wrap(
          new LimitedStore(this.backend, config.data.simultaneousReads, config.data.simultaneousWrites),
          config.data.bandwidthRead,
          config.data.bandwidthWrite,
        ),
        {
          codec: settings.codec,
          level: config.data.compressionLevel,
          key: config.defaults.encryptionKey,
          maxBlobSize: config.defaults.blockSize,
        },
      ),
      log: this.log,
      staleMeta: this.catalogInMemory ? undefined : new Set(),
      locks: this.locks,
      interruption: this.interruption,
      report: this.report,
      hasher: (algorithm = config.defaults.hashFunction) => this.hasher(algorithm),
      openSource: (url) => openSource(url, config),
      openTarget: (url, sizeBytes, force) => openTarget(url, sizeBytes, force, config),
    };
  }

  /**
   * Writes the metadata objects of the versions this command changed (src/meta/sync.ts); returns how many.
   * Nothing (and no code loaded) when the command changed none.
   */
  async writeStaleMeta(): Promise<number> {
    if (!this.built?.staleMeta?.size) return 0;
    const { writeStale } = await import("../meta/sync.ts");
    return await writeStale(this.built);
  }

  private hasher(algorithm: string): Hasher {
    let hasher = this.hashers.get(algorithm);
    if (!hasher) this.hashers.set(algorithm, hasher = createHasher(algorithm));
    return hasher;
  }

  async close(): Promise<void> {
    for (const hasher of this.hashers.values()) hasher.close();
    if (this.built) {
      await this.built.store.close();
      await this.built.catalog.close();
    } else {
      await this.backend.close();
    }
    await this.locks.close();
  }

  /**
   * The catalog ended this process's lock leases (its connection closed, or another host broke them after the
   * heartbeat stopped): others may now work on what this process holds, so it stops at once.
   */
  private leaseLost(why: string): void {
    this.log.error(`Lost the lock leases on the catalog (${why}); stopping at once.`);
    Deno.exit(Exit.failed);
  }
}

const IN_MEMORY = { engine: "a catalog in memory", create: true };

/**
 * The embedded default creates its catalog on first use, but only next to an empty or absent block store: a
 * store with files and no catalog means the catalog was lost, and an empty one would let cleanup delete them.
 */
function isFirstUseOfEmbeddedDefault(config: Config): boolean {
  return config.embeddedDefault && !holdsAnyFile(config.data.path);
}

function holdsAnyFile(dir: string): boolean {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  return entries.some((entry) => !entry.isDirectory || holdsAnyFile(join(dir, entry.name)));
}
