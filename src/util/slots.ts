/**
 * A counting semaphore: at most `slots` holders at once. It is how `simultaneous_reads` and
 * `simultaneous_writes` bound the IO a pipeline keeps in flight against a source, target or block store.
 */

export class Slots {
  private readonly waiters: (() => void)[] = [];
  private used = 0;

  constructor(private readonly slots: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used >= this.slots) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.used++;
    try {
      return await work();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.used--;
    }
  }
}
