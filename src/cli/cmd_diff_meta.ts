/**
 * `backy2 diff-meta VERSION_UID1 VERSION_UID2`: compares two versions block by block and prints one line per
 * block id to stdout (also under `-m`): `SAME` when both blocks name the same blob (two sparse blocks are the
 * same), `DIFF` otherwise, and `NEW RIGHT` / `NEW LEFT` for blocks only the right / left version has. The
 * reference crashes instead of printing the last two.
 *
 * Under `--json` the same comparison is an array of `{"block", "status"}` objects.
 *
 * Decisions beyond the reference: an unknown uid fails with `'Version {uid} not found.'` (the reference printed
 * nothing or crashed), and a block an unfinished version has not recorded yet counts as absent.
 */
import type { CommandContext } from "./context.ts";
import type { BlobRole, BlockMap } from "../catalog/catalog.ts";

/** Lines are written in batches so that a huge version never builds one huge string. */
const BATCH_LINES = 4096;

type Side = string | null | undefined;

export async function diffMeta(ctx: CommandContext): Promise<number> {
  const { catalog } = ctx.engine;
  const left = await catalog.blockMap(ctx.string("version_uid1")!);
  const right = await catalog.blockMap(ctx.string("version_uid2")!);
  const uidOf = await blobUids(catalog, left, right);
  const format = ctx.flags.json ? jsonLines() : textLines();
  // print() drops output once the reader went away (`| head`), as the reference ignores a broken pipe.
  let batch: string[] = [];
  for (let id = 0; id < Math.max(left.length, right.length); id++) {
    const status = diffStatus(uidOf(left[id]), uidOf(right[id]));
    if (status !== null) batch.push(format.line(id, status));
    if (batch.length < BATCH_LINES) continue;
    ctx.print(batch.join(""));
    batch = [];
  }
  ctx.print(batch.join("") + format.end());
  return 0;
}

type Status = "SAME" | "DIFF" | "NEW RIGHT" | "NEW LEFT";

interface LineFormat {
  line(id: number, status: Status): string;
  /** What follows the last line. */
  end(): string;
}

/** backy2's lines: the status padded to ten columns, then the block id. */
function textLines(): LineFormat {
  return { line: (id, status) => `${status.padEnd(10)}${id}\n`, end: () => "" };
}

/** `--json`: an array of `{"block": ID, "status": "same"|"diff"|"new_right"|"new_left"}`, one per line. */
function jsonLines(): LineFormat {
  let first = true;
  return {
    line: (id, status) => {
      const entry = JSON.stringify({ block: id, status: status.toLowerCase().replace(" ", "_") });
      const separator = first ? "[\n" : ",\n";
      first = false;
      return separator + entry;
    },
    end: () => (first ? "[]\n" : "\n]\n"),
  };
}

/** Blob uid of a reference id: a string, null for a sparse block, undefined for no block. */
async function blobUids(
  catalog: BlobRole,
  left: BlockMap,
  right: BlockMap,
): Promise<(id: number | undefined) => Side> {
  const refs = await catalog.refs(new Set([...left, ...right]));
  return (id) => (id === undefined ? undefined : refs.get(id)?.uid);
}

function diffStatus(left: Side, right: Side): Status | null {
  if (left === undefined && right === undefined) return null;
  if (left === undefined) return "NEW RIGHT";
  if (right === undefined) return "NEW LEFT";
  return left === right ? "SAME" : "DIFF";
}
