import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A receiver's rate limit (receiver.maxRate, updated by the driver's backpressure estimate): a
 * token bucket holding at most one second of records. Waiting calls `heartbeat` every second, so
 * the consumer keeps its place in the group.
 */
export class RateLimiter {
  private tokens = 0;
  private refilledAt = Date.now();

  constructor(private rate: number) {
    this.tokens = rate;
  }

  setRate(recordsPerSecond: number): void {
    this.rate = Math.max(0, recordsPerSecond);
  }

  async take(records: number, heartbeat: () => Promise<void>): Promise<void> {
    if (this.rate <= 0) return;
    this.refill();
    this.tokens -= records;
    while (this.tokens < 0 && this.rate > 0) {
      await sleep(Math.min(1000, Math.ceil((-this.tokens / this.rate) * 1000)));
      await heartbeat().catch(() => undefined);
      this.refill();
    }
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
  }
}
