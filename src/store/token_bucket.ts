/**
 * A token bucket for bandwidth limits: capacity = rate (one second of burst), starts full,
 * refills at `rate` bytes per second; taking more than is there sends the taker to sleep until the balance
 * would be back at zero. One bucket is shared by every concurrent reader (or writer) of a store.
 */

export class TokenBucket {
  private balance: number;
  private last: number;

  constructor(private readonly rate: number, private readonly clock: () => number = () => performance.now()) {
    this.balance = rate;
    this.last = clock();
  }

  /** Takes `bytes` from the bucket; resolves when the caller may go on. */
  async take(bytes: number): Promise<void> {
    const wait = this.reserve(bytes);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Takes `bytes` and returns how many milliseconds the caller must wait. */
  reserve(bytes: number): number {
    const time = this.clock();
    this.balance = Math.min(this.rate, this.balance + ((time - this.last) / 1000) * this.rate);
    this.last = time;
    this.balance -= bytes;
    return this.balance < 0 ? (-this.balance / this.rate) * 1000 : 0;
  }
}
