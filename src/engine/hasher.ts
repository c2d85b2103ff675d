/**
 * Block hashing, the wall every data job runs into: checksum (hex digest) and all-zero test of one block.
 *
 * Two implementations behind one interface: OpenSSL through FFI on Deno's blocking threads (preferred:
 * fastest, no copies), and a pool of `node:crypto` Web Workers (hash_pool.ts) where libcrypto or the digest
 * is not available. The OpenSSL path checks its first digest against `node:crypto`, so a wrong binding can
 * never produce wrong checksums silently.
 */
import { type OpenSslDigest, openSslDigest } from "../platform/libcrypto.ts";
import { HashPool } from "./hash_pool.ts";

/** Digest lengths in bytes of the hash functions the configuration accepts. */
const DIGEST_LENGTHS: Record<string, number> = {
  md5: 16,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  "sha512-224": 28,
  "sha512-256": 32,
  "sha3-224": 28,
  "sha3-256": 32,
  "sha3-384": 48,
  "sha3-512": 64,
  blake2b512: 64,
  blake2s256: 32,
  ripemd160: 20,
};

/** node:buffer and node:crypto, loaded on first use: they cost commands that never hash ~0.1 s to load. */
let nodeModules: Promise<[typeof import("node:buffer"), typeof import("node:crypto")]> | null = null;
function node() {
  nodeModules ??= Promise.all([import("node:buffer"), import("node:crypto")]);
  return nodeModules;
}

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
  const length = DIGEST_LENGTHS[algorithm];
  const digest = length ? openSslDigest(algorithm, length) : null;
  return digest ? new OpenSslHasher(algorithm, digest, cores) : new HashPool(algorithm, cores);
}

let zeros = new Uint8Array(0);

/** True when every byte is 0 (Buffer.equals runs at memory speed; a JS loop is ten times slower). */
export async function isAllZero(block: Uint8Array): Promise<boolean> {
  const [{ Buffer }] = await node();
  if (zeros.length < block.length) zeros = new Uint8Array(block.length);
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
    if (await isAllZero(block)) return { buffer, checksum: null, zero: true };
    const [{ Buffer }] = await node();
    const checksum = Buffer.from(await this.digest.digest(block)).toString("hex");
    if (!this.verified) await this.verifyOnce(block, checksum);
    return { buffer, checksum, zero: false };
  }

  /** The first digest of a run is compared with node:crypto's, so a broken binding cannot go unnoticed. */
  private async verifyOnce(block: Uint8Array, checksum: string): Promise<void> {
    const [, { createHash }] = await node();
    if (createHash(this.algorithm).update(block).digest("hex") !== checksum) {
      throw new Error(`OpenSSL ${this.algorithm} disagrees with node:crypto; refusing to continue`);
    }
    this.verified = true;
  }

  close(): void {}
}

const zeroChecksums = new Map<string, string>();

/**
 * The checksum of a block of `length` zero bytes ({@link Hasher.hash} leaves it out, since backups store zero
 * blocks as sparse; a stored zero block, e.g. imported from backy2, still has one).
 */
export async function zeroChecksum(algorithm: string, length: number): Promise<string> {
  const key = `${algorithm}:${length}`;
  let checksum = zeroChecksums.get(key);
  if (checksum === undefined) {
    const [, { createHash }] = await node();
    checksum = createHash(algorithm).update(new Uint8Array(length)).digest("hex");
    zeroChecksums.set(key, checksum);
  }
  return checksum;
}

/** The checksum of a hashed block, zero blocks included. */
export async function checksumOf(hashed: Hashed, length: number, algorithm: string): Promise<string> {
  return hashed.checksum ?? await zeroChecksum(algorithm, length);
}
