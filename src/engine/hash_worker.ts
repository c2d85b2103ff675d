/**
 * Hash worker: checksums one block per message and says whether it is all zeros. The block's buffer is
 * transferred in and back out, so no block is ever copied between threads.
 */
/// <reference lib="deno.worker" />
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

export interface HashJob {
  job: number;
  buffer: ArrayBuffer;
  length: number;
  algorithm: string;
}

export interface HashResult {
  job: number;
  buffer: ArrayBuffer;
  /** Lowercase hex digest; null for an all-zero block (never needed: zero blocks are stored as sparse). */
  checksum: string | null;
  zero: boolean;
  error?: string;
}

let zeros = Buffer.alloc(0);

function isZero(block: Buffer): boolean {
  if (zeros.length < block.length) zeros = Buffer.alloc(block.length);
  return block.equals(zeros.subarray(0, block.length));
}

self.onmessage = (event: MessageEvent<HashJob>) => {
  const { job, buffer, length, algorithm } = event.data;
  const result: HashResult = { job, buffer, checksum: null, zero: false };
  try {
    const block = Buffer.from(buffer, 0, length);
    result.zero = isZero(block);
    if (!result.zero) result.checksum = createHash(algorithm).update(block).digest("hex");
  } catch (error) {
    result.error = (error as Error).message;
  }
  self.postMessage(result, [buffer]);
};
