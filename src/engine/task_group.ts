/**
 * Tasks that run side by side in a pipeline (block reads, checks, writes), with one rule that makes a lost
 * failure impossible: a task's failure is recorded the moment it happens, whoever is waiting at that time.
 * Waiting for room or for the end never looks at a task itself, only at what the group recorded, so a task
 * that ends while nobody watches it cannot take its error along.
 */

export class TaskGroup {
  private readonly running = new Set<Promise<void>>();
  private waiters: (() => void)[] = [];
  private failure: { error: unknown } | null = null;

  /** @param limit how many tasks may run at once (see {@link room}) */
  constructor(private readonly limit = Infinity) {}

  /** Tasks still running. */
  get size(): number {
    return this.running.size;
  }

  /** True once any task has failed: the caller should start no more. */
  get failed(): boolean {
    return this.failure !== null;
  }

  add(task: Promise<unknown>): void {
    const ended: Promise<void> = task.then(
      () => this.end(ended),
      (error) => {
        this.failure ??= { error };
        this.end(ended);
      },
    );
    this.running.add(ended);
  }

  /** Waits until fewer than `limit` tasks run; returns at once when one has failed. */
  async room(): Promise<void> {
    while (this.running.size >= this.limit && !this.failed) await this.nextEnd();
  }

  /** Waits until every task has ended, then throws the first failure, if any. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await this.nextEnd();
    if (this.failure) throw this.failure.error;
  }

  private nextEnd(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private end(task: Promise<void>): void {
    this.running.delete(task);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Runs `work` on every item with at most `window` of them in flight, calling `issued` after starting each.
 * After a failure no item is started; the ones in flight end before the failure is thrown, so that the
 * caller can close its source or target safely.
 */
export async function forEachInWindow<T>(
  items: Iterable<T>,
  window: number,
  work: (item: T) => Promise<void>,
  issued: (inFlight: number) => void = () => {},
): Promise<void> {
  const group = new TaskGroup(window);
  try {
    for (const item of items) {
      await group.room();
      if (group.failed) break;
      group.add(work(item));
      issued(group.size);
    }
  } catch (error) {
    await group.settle().catch(() => {});
    throw error;
  }
  await group.settle();
}
