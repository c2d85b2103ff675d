/**
 * Block hashing, the wall every data job runs into: checksum (hex digest) and all-zero test of one block.
 *
 * Two implementations behind one interface: OpenSSL through FFI on Deno's blocking threads (preferred:
 * fastest, no copies), and a pool of `node:crypto` Web Workers (hash_pool.ts) where libcrypto or the digest
 * is not available. The OpenSSL path checks its first digest against `node:crypto`, so a wrong binding can
 * never produce wrong checksums silently.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { type OpenSslDigest, openSslDigest } from "../platform/libcrypto.ts";
import { HashPool } from "./hash_pool.ts";

export interface Hashed {
  /** The same memory as the submitted buffer. */
  buffer: ArrayBuffer;
  /** Lowercase hex digest; null for an all-zero block. */
  checksum: string | null;
  zero: boolean;
}

export interface Hasher {
  /** How many blocks it hashes at once. */
  readonly parallelism: number;
  /** Hashes `buffer[0, length)`; do not touch the buffer until the promise resolves. */
  hash(buffer: ArrayBuffer, length: number): Promise<Hashed>;
  close(): void;
}

/** The fastest hasher available for `algorithm` (a node:crypto name such as `sha512`). */
export function createHasher(algorithm: string): Hasher {
  const cores = navigator.hardwareConcurrency || 2;
  const digest = openSslDigest(algorithm, createHash(algorithm).digest().length);
  return digest ? new OpenSslHasher(algorithm, digest, cores) : new HashPool(algorithm, cores);
}

let zeros = Buffer.alloc(0);

export function isAllZero(block: Uint8Array): boolean {
  if (zeros.length < block.length) zeros = Buffer.alloc(block.length);
  return Buffer.from(block.buffer, block.byteOffset, block.byteLength).equals(zeros.subarray(0, block.length));
}

class OpenSslHasher implements Hasher {
  private verified = false;

  constructor(
    private readonly algorithm: string,
    private readonly digest: OpenSslDigest,
    readonly parallelism: number,
  ) {}

  async hash(buffer: ArrayBuffer, length: number): Promise<Hashed> {
    const block = new Uint8Array(buffer, 0, length);
    if (isAllZero(block)) return { buffer, checksum: null, zero: true };
    const checksum = Buffer.from(await this.digest.digest(block)).toString("hex");
    if (!this.verified) this.verifyOnce(block, checksum);
    return { buffer, checksum, zero: false };
  }

  /** The first digest of a run is compared with node:crypto's, so a broken binding cannot go unnoticed. */
  private verifyOnce(block: Uint8Array, checksum: string): void {
    if (createHash(this.algorithm).update(block).digest("hex") !== checksum) {
      throw new Error(`OpenSSL ${this.algorithm} disagrees with node:crypto; refusing to continue`);
    }
    this.verified = true;
  }

  close(): void {}
}
