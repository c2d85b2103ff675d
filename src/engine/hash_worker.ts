/**
 * Hash worker: checksums one block per message and says whether it is all zeros. The block's buffer is
 * transferred in and back out, so no block is ever copied between threads.
 *
 * The worker is started from a `data:` URL holding {@link hashWorkerMain}'s source text, so a one-file bundle
 * (`deno task bundle`) needs no worker file beside it. That is why the function reaches nothing outside
 * itself: `node:buffer` and `node:crypto` come in as parameters, imported by the worker's own source.
 */
import type { Buffer as NodeBuffer } from "node:buffer";
import type { createHash as nodeCreateHash } from "node:crypto";

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

/** The part of a worker's global scope the hash worker uses. */
export interface HashWorkerScope {
  onmessage: ((event: MessageEvent<HashJob>) => void) | null;
  postMessage(message: HashResult, transfer: Transferable[]): void;
}

/** The worker's body: answers each {@link HashJob} posted to `scope` with a {@link HashResult}. */
export function hashWorkerMain(
  scope: HashWorkerScope,
  Buffer: typeof NodeBuffer,
  createHash: typeof nodeCreateHash,
): void {
  let zeros = Buffer.alloc(0);
  const isZero = (block: NodeBuffer): boolean => {
    if (zeros.length < block.length) zeros = Buffer.alloc(block.length);
    return block.equals(zeros.subarray(0, block.length));
  };
  scope.onmessage = (event) => {
    const { job, buffer, length, algorithm } = event.data;
    const result: HashResult = { job, buffer, checksum: null, zero: false };
    try {
      const block = Buffer.from(buffer, 0, length);
      result.zero = isZero(block);
      if (!result.zero) result.checksum = createHash(algorithm).update(block).digest("hex");
    } catch (error) {
      result.error = (error as Error).message;
    }
    scope.postMessage(result, [buffer]);
  };
}

/** A module URL that runs {@link hashWorkerMain} in a worker (`new Worker(url, { type: "module" })`). */
export function hashWorkerUrl(): string {
  const source = 'import { Buffer } from "node:buffer";\n' +
    'import { createHash } from "node:crypto";\n' +
    `(${hashWorkerMain.toString()})(self, Buffer, createHash);\n`;
  return `data:text/javascript;base64,${base64(source)}`;
}

function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
