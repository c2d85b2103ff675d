/**
 * A fixed set of block buffers shared by a pipeline: taking one waits while all are in use, which is what
 * bounds a job's memory to `count × block size` whatever the image size.
 */

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly waiters: ((buffer: ArrayBuffer) => void)[] = [];
  private allocated = 0;

  constructor(private readonly bufferSize: number, private readonly count: number) {}

  get inUse(): number {
    return this.allocated - this.free.length;
  }

  get capacity(): number {
    return this.count;
  }

  take(): Promise<ArrayBuffer> {
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    if (this.allocated < this.count) {
      this.allocated++;
      return Promise.resolve(new ArrayBuffer(this.bufferSize));
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(buffer: ArrayBuffer): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(buffer);
    else this.free.push(buffer);
  }
}
