/**
 * What every pipeline (backup, restore, scrub, cleanup) works with: the catalog, the block store, sources
 * and targets, locks, the log and the hash workers. The CLI builds one per command.
 */
import type { Catalog } from "../catalog/catalog.ts";
import type { BlockStore } from "../store/block_store.ts";
import type { Source, Target } from "../io/io.ts";
import type { Logger } from "../log/logger.ts";
import type { LockManager } from "../lock/lock_manager.ts";
import type { Hasher } from "./hasher.ts";
import type { Interruption } from "./interruption.ts";
import type { RunReport } from "./run_report.ts";

export interface EngineSettings {
  blockSize: number;
  hashFunction: string;
  deduplication: boolean;
  /** The codec id new blobs get (see store/codecs.ts). */
  codec: number;
  /** Whether an encryption key is configured (blobs of encrypting codecs can be read). */
  haveKey: boolean;
  /** Shown in the process title (`{process_name} [{status}]`). */
  processName: string;
  /** Blocks read ahead of the hashing. */
  readAhead: number;
  /** `cleanup --full` leaves unreferenced blobs younger than this alone (another host may be writing them). */
  cleanupGraceSeconds: number;
}

/** An engine whose catalog offers only roles `R`: what a pipeline declares that it uses. */
export type EngineWith<R> = Omit<Engine, "catalog"> & { catalog: R };

export interface Engine {
  settings: EngineSettings;
  catalog: Catalog;
  store: BlockStore;
  log: Logger;
  locks: LockManager;
  /** Set by SIGINT, SIGTERM or SIGHUP; long jobs check it between blocks. */
  interruption: Interruption;
  /**
   * Versions whose metadata object in the store no longer matches the catalog (src/meta/sync.ts); the CLI
   * writes them again before the command ends. Absent where nothing is written back (a catalog in memory).
   */
  staleMeta?: Set<string>;
  /** Where the pipelines count what they did (for `--json` results and metrics); absent in some unit tests. */
  report?: RunReport;
  /** The shared hasher of `algorithm` (default: the configured hash function). */
  hasher(algorithm?: string): Hasher;
  openSource(url: string): Promise<Source>;
  openTarget(url: string, sizeBytes: number, force: boolean): Promise<Target>;
}
