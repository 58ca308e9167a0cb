import { DeadLetterQueue, type DeadLetter, type SluiceConfig } from '@sluice/common';

/** The job's dead-letter queue, opened on the first poison record (most executors never need it). */
export class LazyDeadLetterQueue {
  private queue: Promise<DeadLetterQueue> | undefined;

  constructor(
    private readonly config: SluiceConfig,
    private readonly jobName: string
  ) {}

  async add(letters: DeadLetter[]): Promise<void> {
    this.queue ??= DeadLetterQueue.open(this.config.redis, this.jobName, {
      connectTimeoutMs: this.config.redis.connectTimeoutMs,
      replayAttempts: this.config.deadLetter.replayAttempts,
      replayBackoffMs: this.config.deadLetter.replayBackoffMs,
    });
    const queue = this.queue;
    // A failed open is retried by the next task attempt, not cached.
    await queue.catch((e: unknown) => {
      if (this.queue === queue) this.queue = undefined;
      throw e;
    });
    await (await queue).add(letters);
  }

  async close(): Promise<void> {
    const queue = this.queue;
    this.queue = undefined;
    if (queue) await (await queue.catch(() => undefined))?.close();
  }
}
