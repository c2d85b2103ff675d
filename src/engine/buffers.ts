/**
 * A fixed set of block buffers shared by a pipeline: taking one waits while all are in use, which is what
 * bounds a job's memory to `count × block size` whatever the image size.
 *
 * The buffers are page-aligned (aligned_memory.ts), so that blocks can be written with direct IO; the pipeline
 * that made a pool {@link BufferPool.release}s it when it ends, for the next pool to reuse the memory.
 */
import { alignedBuffer, releaseAligned } from "../platform/aligned_memory.ts";

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly waiters: ((buffer: ArrayBuffer) => void)[] = [];
  private allocated = 0;
  private released = false;

  constructor(private readonly bufferSize: number, private readonly count: number) {}

  get inUse(): number {
    return this.allocated - this.free.length;
  }

  get capacity(): number {
    return this.count;
  }

  take(): Promise<ArrayBuffer> {
    if (this.released) throw new Error("BufferPool.take after release");
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    if (this.allocated < this.count) {
      this.allocated++;
      return Promise.resolve(alignedBuffer(this.bufferSize));
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends the pool: its buffers go back for reuse, the free ones now and the others when they are given back. */
  release(): void {
    this.released = true;
    releaseAligned(this.free.splice(0));
  }

  give(buffer: ArrayBuffer): void {
    if (this.released) return releaseAligned([buffer]);
    const waiter = this.waiters.shift();
    if (waiter) waiter(buffer);
    else this.free.push(buffer);
  }
}
