/**
 * `backy2 export VERSION_UID FILENAME [-F FORMAT]`: writes a version's metadata dump into a file, or to
 * stdout for `-`. Format `2.12` (the default) is backy2's, byte for byte, including the extra newline after
 * a dump written to stdout; `deno-1` is this tool's lossless format (tags, expire time, microseconds, stats,
 * codec ids and stored sizes), which `import` reads back. A version with blocks in a codec backy2 cannot
 * read (zstd) has no 2.12 dump: that is one error line, and nothing is written.
 */
import type { CommandContext } from "./context.ts";
import { DUMP_FORMATS, DumpError, renderDump212, renderDumpDeno } from "../output/dump.ts";
import { BackyError } from "../util/errors.ts";

export async function exportCommand(ctx: CommandContext): Promise<number> {
  const format = ctx.string("format") ?? "2.12";
  if (!(DUMP_FORMATS as readonly string[]).includes(format)) {
    throw new BackyError(`Unknown dump format ${format} (choose from ${DUMP_FORMATS.join(", ")}).`);
  }
  const text = await renderExport(ctx, ctx.string("version_uid")!, format);
  const filename = ctx.string("filename")!;
  if (filename === "-") ctx.print(format === "2.12" ? `${text}\n` : text);
  else writeDump(filename, text);
  return 0;
}

async function renderExport(ctx: CommandContext, uid: string, format: string): Promise<string> {
  const { catalog } = ctx.engine;
  const version = await catalog.getVersion(uid);
  const blocks = await catalog.exportBlocks(uid);
  if (format !== "2.12") return renderDumpDeno(version, blocks, await catalog.listStats({ versionUid: uid }));
  try {
    return renderDump212(version, blocks);
  } catch (error) {
    if (error instanceof DumpError) throw new BackyError(error.message);
    throw error;
  }
}

function writeDump(filename: string, text: string): void {
  try {
    Deno.writeTextFileSync(filename, text);
  } catch (error) {
    throw new BackyError(`Cannot write ${filename}: ${(error as Error).message}`);
  }
}
