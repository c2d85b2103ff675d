/**
 * `backy2 import FILENAME`: adds a version from a metadata dump (`-` reads stdin) in format 2.1, 2.2, 2.10,
 * 2.12 or this tool's deno-1.
 *
 * The whole dump is checked before anything is written, and the version is added in one transaction: an
 * unknown signature (`Wrong import format.`) or any malformed row exits 23 naming its line, an existing uid
 * exits 22, and either way the catalog is unchanged. The version's metadata object is written to the block
 * store before the version is added. (The reference instead imports a version, then silently
 * removes it again when a block row is bad, and exits 0.)
 */
import type { CommandContext } from "./context.ts";
import { type Dump, DumpError, parseDump } from "../output/dump.ts";
import { BackyError, Exit } from "../util/errors.ts";
import { importWithMeta } from "../meta/sync.ts";

export async function importCommand(ctx: CommandContext): Promise<number> {
  const dump = readDump(await readInput(ctx.string("filename")!));
  const { catalog, store } = ctx.engine;
  await catalog.withTransaction(async (tx) => {
    await importWithMeta(store, tx, dump.version, dump.blocks);
    await tx.importStats(dump.stats);
  });
  return 0;
}

function formatError(message: string): BackyError {
  return new BackyError(message, { exitCode: Exit.importFormat, bare: true });
}

async function readInput(filename: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = filename === "-" ? await new Response(Deno.stdin.readable).bytes() : await Deno.readFile(filename);
  } catch (error) {
    throw new BackyError(`Cannot read ${filename}: ${(error as Error).message}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw formatError(`${filename} is not UTF-8 text.`);
  }
}

function readDump(text: string): Dump {
  try {
    return parseDump(text);
  } catch (error) {
    if (error instanceof DumpError) throw formatError(error.message);
    throw error;
  }
}
