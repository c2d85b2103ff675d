/**
 * `null://SIZE`: a source of deterministic test data of SIZE bytes, and as a target, a sink. Block `i` is the
 * 16-byte little-endian encoding of `i` followed by spaces, so every block differs and none is zero; reading
 * costs nothing, which makes `null://` the way to measure the pipeline alone.
 */
import { BackyError } from "../util/errors.ts";
import type { Source, Target } from "./io.ts";

const MULTIPLIERS: Record<string, number> = { "": 1, k: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

/** Parses `null://200GB`, `null://100k`, `null://100`. */
export function parseNullSize(url: string): number {
  const match = /^null:\/\/([0-9]+)([kMGTP]?)B?$/.exec(url);
  if (!match) {
    throw new BackyError(
      `Not a valid io name: ${url} . Need a virtual file size, e.g. random://200TB or random://10GB`,
    );
  }
  const size = Number(match[1]) * MULTIPLIERS[match[2]];
  if (!Number.isSafeInteger(size)) throw new BackyError(`Not a valid io name: ${url} . The size is too large.`);
  return size;
}

/** Writes the content of the block starting at `offset` into `into` (length = bytes wanted). */
export function fillNullBlock(blockId: number, into: Uint8Array): void {
  into.fill(0x20);
  let value = BigInt(blockId);
  for (let i = 0; i < Math.min(16, into.length); i++) {
    into[i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

export class NullSource implements Source {
  readonly size: number;

  constructor(readonly url: string, private readonly blockSize: number) {
    this.size = parseNullSize(url);
  }

  read(offset: number, into: Uint8Array): Promise<number> {
    const length = Math.max(0, Math.min(into.length, this.size - offset));
    // Reads are block aligned: the engine always reads whole blocks.
    fillNullBlock(Math.floor(offset / this.blockSize), into.subarray(0, length));
    return Promise.resolve(length);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class NullTarget implements Target {
  constructor(readonly url: string) {}
  write(_offset: number, _data: Uint8Array): Promise<void> {
    return Promise.resolve();
  }
  writeZeroes(_offset: number, _length: number): Promise<void> {
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
