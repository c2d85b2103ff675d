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

/**
 * Runs `work` on every item with at most `window` of them in flight, calling `issued` after starting each.
 * When one fails, the others still in flight end before the failure is thrown, so the caller can close
 * its source or target safely.
 */
export async function forEachInWindow<T>(
  items: Iterable<T>,
  window: number,
  work: (item: T) => Promise<void>,
  issued: (inFlight: number) => void = () => {},
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  try {
    for (const item of items) {
      while (inFlight.size >= window) await Promise.race(inFlight);
      const task: Promise<void> = work(item).finally(() => inFlight.delete(task));
      inFlight.add(task);
      issued(inFlight.size);
    }
    await Promise.all(inFlight);
  } catch (error) {
    await Promise.allSettled(inFlight);
    throw error;
  }
}
