/**
 * Sources and targets: what a backup reads and a restore writes, chosen by URL scheme.
 *
 * `file://PATH` (files and block devices), `null://SIZE` (deterministic test data; a sink as a target) and
 * `rbd://pool/image[@snap]` (Ceph RBD). Every driver implements {@link Source} or {@link Target}.
 */
import type { Hint } from "../engine/hints.ts";
import { BackyError } from "../util/errors.ts";

export interface Source {
  readonly url: string;
  readonly size: number;
  /** Reads up to `into.length` bytes at `offset`; returns how many were read (short only at the end). */
  read(offset: number, into: Uint8Array): Promise<number>;
  close(): Promise<void>;
  /** How many reads a pipeline may keep in flight (undefined: one after another). */
  readonly parallelReads?: number;
  /**
   * Sources that can diff snapshots themselves (rbd): the extents changed since `snapshotName` of the same
   * image, in hints form (`rbd diff --from-snap --whole-object`); null when that snapshot cannot be used.
   */
  changesSince?(snapshotName: string): Promise<Hint[] | null>;
}

export interface Target {
  readonly url: string;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Writes `length` zero bytes at `offset`. */
  writeZeroes(offset: number, length: number): Promise<void>;
  /** Makes everything written durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Validates a source/target URL like the reference before choosing a driver; returns its scheme. */
export function urlScheme(url: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (!match) throw new BackyError("Invalid URL. You must provide the type (e.g. file://)");
  const query = url.search(/[?#]/);
  if (query >= 0 && query < url.length - 1) throw new BackyError("Invalid URL.");
  return match[1];
}

export function unknownScheme(scheme: string): BackyError {
  return new BackyError(`No module named 'backy2.io.${scheme}'`);
}
