/**
 * What a backup, restore, scrub or cleanup did, as counters and the blocks it found invalid: the pipelines add
 * to it as they go, and the CLI turns it into the `--json` result object and the Prometheus metrics. It changes
 * nothing a pipeline does.
 */

/** A block found bad: its id in the version, its blob uid, and why (one line). */
export interface InvalidBlock {
  block: number;
  blobUid: string | null;
  reason: string;
}

export class RunReport {
  private readonly values = new Map<string, number>();
  readonly invalidBlocks: InvalidBlock[] = [];
  /** Why a pipeline that returned a failing exit code (rather than throwing) failed, in one line. */
  failure?: string;

  fail(reason: string): void {
    this.failure = reason;
  }

  /** Starts these counters at 0, so that a result shows them even when nothing was counted. */
  declare(...names: string[]): void {
    for (const name of names) if (!this.values.has(name)) this.values.set(name, 0);
  }

  add(name: string, amount = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + amount);
  }

  set(name: string, value: number): void {
    this.values.set(name, value);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  invalid(block: number, blobUid: string | null, reason: string): void {
    this.invalidBlocks.push({ block, blobUid, reason });
  }

  /** The counters in the order they were declared or first counted. */
  get counters(): Record<string, number> {
    return Object.fromEntries(this.values);
  }
}
