/**
 * Hints: the `rbd diff [--whole-object] --format=json` list that tells a differential backup which regions
 * changed (`exists` true: read them) or were discarded (`exists` false: record them sparse). Only the first
 * line of the file is read, as in the reference.
 *
 * Unlike the reference, a block is recorded sparse only where false extents cover all of it: a partly
 * discarded block (an `rbd diff` without `--whole-object`, or a hand-written file) still holds data and is
 * read. `exists` follows Python truthiness where backy2 does (`"false"` and every falsy JSON value are
 * false), but a value that is neither a false one nor `true`, `"true"` or `1` is refused instead of read as true.
 */
import { BackyError } from "../util/errors.ts";

export interface Hint {
  offset: number;
  length: number;
  exists: boolean;
}

/** Reads and validates a hints file (`-` = stdin). */
export async function readHints(path: string): Promise<Hint[]> {
  const origin = path === "-" ? "stdin" : path;
  let bytes: Uint8Array;
  try {
    bytes = path === "-" ? await firstLine(Deno.stdin.readable) : await readFirstLineOf(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BackyError(`[Errno 2] No such file or directory: '${path}'`);
    }
    throw new BackyError(`Unable to read hints file ${path}: ${(error as Error).message}`);
  }
  let line: string;
  try {
    line = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BackyError(`Hints from ${origin} are not valid JSON: the first line is not UTF-8 text.`);
  }
  return parseHints(line, origin);
}

async function readFirstLineOf(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  return await firstLine(file.readable);
}

/** The bytes before the first newline; stops reading there (a disk image given by mistake is not loaded). */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const end = value.indexOf(0x0a);
      chunks.push(end < 0 ? value : value.subarray(0, end));
      if (end >= 0) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const line = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) line.set(chunk, at), at += chunk.length;
  return line;
}

/** Parses the first line of a hints file. */
export function parseHints(line: string, origin: string): Hint[] {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (error) {
    throw new BackyError(`Hints from ${origin} are not valid JSON: ${jsonProblem(line, error as Error)}.`);
  }
  if (!Array.isArray(data)) throw new BackyError(`Hints from ${origin} must be a JSON list of extents.`);
  return data.map((entry, index) => toHint(entry, index, origin));
}

function toHint(entry: unknown, index: number, origin: string): Hint {
  const where = `Hints from ${origin}, entry ${index}`;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new BackyError(`${where} is not an object with offset, length and exists.`);
  }
  const record = entry as Record<string, unknown>;
  for (const key of ["offset", "length", "exists"]) {
    if (!(key in record)) throw new BackyError(`${where} has no '${key}'.`);
  }
  const offset = record.offset;
  const length = record.length;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) {
    throw new BackyError(`${where}: offset must be a non-negative integer.`);
  }
  if (!Number.isSafeInteger(length) || (length as number) < 0) {
    throw new BackyError(`${where}: length must be a non-negative integer.`);
  }
  return { offset: offset as number, length: length as number, exists: existsValue(record.exists, where) };
}

/**
 * What went wrong, without quoting the line: it may be binary, or long. JSON.parse quotes the start of the
 * text, so only its words before that quote are kept.
 */
function jsonProblem(line: string, error: Error): string {
  // deno-lint-ignore no-control-regex
  const control = line.search(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/);
  if (control >= 0) return `a control character at position ${control}`;
  return error.message.replace(/, ".*$/s, "").replace(/[^\x20-\x7e]/g, "?");
}

/**
 * `"false"` and the JSON values Python counts as false are false; `true`, `"true"` and `1` are true; anything
 * else is refused rather than read as true, as backy2 would.
 */
function existsValue(value: unknown, where: string): boolean {
  if (value === true || value === "true" || value === 1) return true;
  if (value === "false" || !pythonTruthy(value)) return false;
  const shown = JSON.stringify(value);
  const brief = shown.length > 40 ? `${shown.slice(0, 40)}...` : shown;
  throw new BackyError(`${where}: exists must be true or false ("true"/"false", 1/0), not ${brief}.`);
}

function pythonTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && value !== null) return Object.keys(value).length > 0;
  return Boolean(value);
}

/** Block ids an extent touches: `floor(offset/bs)` to `ceil((offset+length)/bs) - 1`. */
export function blocksOfExtent(hint: Hint, blockSize: number): [first: number, last: number] {
  return [Math.floor(hint.offset / blockSize), Math.ceil((hint.offset + hint.length) / blockSize) - 1];
}

export interface HintedBlocks {
  /** 1 = read, 2 = sparse (read wins when both apply), 0 = not hinted. */
  marks: Uint8Array;
}

export const HINT_READ = 1;
export const HINT_SPARSE = 2;

/**
 * Checks hints against the source size and marks each block id: read where a true extent touches it, sparse
 * where false extents cover all of its bytes (the last block may be short), read where they cover only part.
 */
export function markHintedBlocks(hints: Hint[], sourceSize: number, blockSize: number, blocks: number): Uint8Array {
  // A loop, not Math.max(...list): a spread of a long rbd diff overflows the stack.
  const end = hints.reduce((max, hint) => Math.max(max, hint.offset + hint.length), 0);
  if (hints.length > 0 && end > sourceSize) {
    throw new BackyError("Hints have higher offsets than source file.");
  }
  const marks = new Uint8Array(blocks);
  const partlyDiscarded = new Map<number, Array<[start: number, end: number]>>();
  for (const hint of hints) {
    const [first, last] = blocksOfExtent(hint, blockSize);
    for (let id = first; id <= last && id < blocks; id++) {
      if (hint.exists) marks[id] = HINT_READ;
      else if (marks[id] === HINT_READ) continue;
      else if (coversBlock(hint.offset, hint.offset + hint.length, id, blockSize, sourceSize)) marks[id] = HINT_SPARSE;
      else addPiece(partlyDiscarded, id, hint);
    }
  }
  for (const [id, pieces] of partlyDiscarded) {
    if (marks[id] === HINT_SPARSE || marks[id] === HINT_READ) continue;
    marks[id] = piecesCoverBlock(pieces, id, blockSize, sourceSize) ? HINT_SPARSE : HINT_READ;
  }
  return marks;
}

function blockEnd(id: number, blockSize: number, sourceSize: number): number {
  return Math.min((id + 1) * blockSize, sourceSize);
}

function coversBlock(start: number, end: number, id: number, blockSize: number, sourceSize: number): boolean {
  return start <= id * blockSize && end >= blockEnd(id, blockSize, sourceSize);
}

function addPiece(pieces: Map<number, Array<[number, number]>>, id: number, hint: Hint): void {
  const list = pieces.get(id) ?? [];
  list.push([hint.offset, hint.offset + hint.length]);
  pieces.set(id, list);
}

/** Whether the union of `pieces` (byte ranges, end exclusive) covers every byte of block `id`. */
function piecesCoverBlock(pieces: Array<[number, number]>, id: number, blockSize: number, sourceSize: number): boolean {
  let covered = id * blockSize;
  const end = blockEnd(id, blockSize, sourceSize);
  for (const [start, stop] of pieces.sort((a, b) => a[0] - b[0])) {
    if (start > covered) return false;
    covered = Math.max(covered, stop);
    if (covered >= end) return true;
  }
  return false;
}
