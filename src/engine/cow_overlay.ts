/**
 * Copy-on-write over a {@link VersionImage}: writes land in a temporary file, never in the backup. The first
 * write to a block copies the block's verified backup data into the file (unless the write covers the whole
 * block) and patches it there; later reads of that block come from the file.
 *
 * The file (`backy2cow*.img` in the cache directory) is deleted right after it is opened, so the writes
 * vanish when the server ends, however it ends. Writes to one block are applied in order, one at a time.
 */
import { RawFile } from "../platform/posix_io.ts";
import type { Extent, Image, VersionImage } from "./block_reader.ts";

export class CowImage implements Image {
  readonly uid: string;
  readonly sizeBytes: number;
  private readonly blockSize: number;
  /** 1 for each block whose current data is in the overlay file. */
  private readonly written: Uint8Array;
  /** The last queued write of each block being written. */
  private readonly queues = new Map<number, Promise<void>>();

  private constructor(private readonly base: VersionImage, private readonly file: RawFile) {
    this.uid = base.uid;
    this.sizeBytes = base.sizeBytes;
    this.blockSize = base.blockSize;
    this.written = new Uint8Array(base.blocks);
  }

  /** An overlay in a new temporary file in `dir`. */
  static create(base: VersionImage, dir: string): CowImage {
    const path = Deno.makeTempFileSync({ dir, prefix: "backy2cow", suffix: ".img" });
    try {
      return new CowImage(base, RawFile.open(path, "readWrite"));
    } finally {
      Deno.removeSync(path);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const pieces = this.pieces(offset, length);
    if (pieces.every((piece) => !this.written[piece.id])) return await this.base.read(offset, length);
    const result = new Uint8Array(length);
    await Promise.all(pieces.map(async (piece) => {
      const into = result.subarray(piece.at, piece.at + piece.length);
      const start = piece.id * this.blockSize + piece.inBlock;
      if (this.written[piece.id]) await this.file.readAt(start, into);
      else into.set(await this.base.read(start, piece.length));
    }));
    return result;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    await Promise.all(
      this.pieces(offset, data.length).map((piece) =>
        this.queued(piece.id, async () => {
          const blockStart = piece.id * this.blockSize;
          if (!this.written[piece.id] && piece.length < this.base.blockLength(piece.id)) {
            await this.file.writeAt(blockStart, copyOf(await this.base.block(piece.id)));
          }
          await this.file.writeAt(blockStart + piece.inBlock, copyOf(data.subarray(piece.at, piece.at + piece.length)));
          this.written[piece.id] = 1;
        })
      ),
    );
  }

  extents(offset: number, length: number): Extent[] {
    const extents: Extent[] = [];
    for (const piece of this.pieces(offset, Math.min(length, this.sizeBytes - offset))) {
      const zero = !this.written[piece.id] && this.base.isSparse(piece.id);
      const previous = extents.at(-1);
      if (previous && previous.zero === zero) previous.length += piece.length;
      else extents.push({ length: piece.length, zero });
    }
    return extents;
  }

  close(): void {
    this.file.close();
  }

  /** `[offset, offset + length)` cut at block boundaries: block id, offset in block, length, offset in range. */
  private pieces(offset: number, length: number): { id: number; inBlock: number; length: number; at: number }[] {
    const pieces = [];
    for (let at = 0; at < length;) {
      const id = Math.floor((offset + at) / this.blockSize);
      const inBlock = offset + at - id * this.blockSize;
      const piece = Math.min(length - at, this.blockSize - inBlock);
      pieces.push({ id, inBlock, length: piece, at });
      at += piece;
    }
    return pieces;
  }

  /** Runs `work` after every earlier write to block `id`, so that a block is copied once and patched in order. */
  private queued(id: number, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.queues.set(id, next);
    const forget = () => {
      if (this.queues.get(id) === next) this.queues.delete(id);
    };
    next.then(forget, forget);
    return next;
  }
}

/** `data` in memory of its own (a view of a cached block or of a caller's buffer must not be handed to IO). */
function copyOf(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}
