/**
 * Hints (behavior §6.2): the `rbd diff --whole-object --format=json` list that tells a differential backup
 * which regions changed (`exists` true: read them) or were discarded (`exists` false: record them sparse).
 * Only the first line of the file is read, as in the reference.
 */
import { BackyError } from "../util/errors.ts";

export interface Hint {
  offset: number;
  length: number;
  exists: boolean;
}

/** Reads and validates a hints file (`-` = stdin). */
export async function readHints(path: string): Promise<Hint[]> {
  let text: string;
  try {
    text = path === "-" ? await readStdin() : await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BackyError(`[Errno 2] No such file or directory: '${path}'`);
    }
    throw new BackyError(`Unable to read hints file ${path}: ${(error as Error).message}`);
  }
  return parseHints(text.split("\n")[0], path === "-" ? "stdin" : path);
}

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/** Parses the first line of a hints file. */
export function parseHints(line: string, origin: string): Hint[] {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (error) {
    throw new BackyError(`Hints from ${origin} are not valid JSON: ${(error as Error).message}`);
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
  return { offset: offset as number, length: length as number, exists: existsValue(record.exists) };
}

/** `"false"` and JSON-falsy values are false; everything else (`"true"`, `true`) is true. */
function existsValue(value: unknown): boolean {
  return !(value === "false" || value === false || value === 0 || value === "" || value === null);
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

/** Checks hints against the source size and marks each block id. */
export function markHintedBlocks(hints: Hint[], sourceSize: number, blockSize: number, blocks: number): Uint8Array {
  // A loop, not Math.max(...list): a spread of a long rbd diff overflows the stack.
  const end = hints.reduce((max, hint) => Math.max(max, hint.offset + hint.length), 0);
  if (hints.length > 0 && end > sourceSize) {
    throw new BackyError("Hints have higher offsets than source file.");
  }
  const marks = new Uint8Array(blocks);
  for (const hint of hints) {
    const [first, last] = blocksOfExtent(hint, blockSize);
    for (let id = first; id <= last && id < blocks; id++) {
      if (hint.exists) marks[id] = HINT_READ;
      else if (marks[id] !== HINT_READ) marks[id] = HINT_SPARSE;
    }
  }
  return marks;
}
