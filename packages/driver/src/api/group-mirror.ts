import type { GroupOffsetClient, Logger } from '@sluice/common';

/**
 * Mirrors committed offsets into a Kafka consumer group that nobody joins, so Kafka's own lag tools
 * (kafka-consumer-groups.sh, Burrow, exporters) show the job's progress. Best effort and off the
 * critical path: a publication runs in the background, a newer one replaces one still waiting, and
 * a failure only logs a warning (the next batch publishes again). The Redis checkpoint stays the truth.
 *
 * Publications are at least `intervalMs` apart, as a Kafka consumer's `auto.commit.interval.ms`:
 * every OffsetCommit writes one record per partition to `__consumer_offsets`, which at 512
 * partitions and 10 batches a second would be 5,000 writes a second for a monitoring view. The
 * latest offsets are always published on {@link close}.
 */
export class GroupMirror {
  private publisher: GroupOffsetClient | undefined;
  private pending: Map<string, bigint> | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStarted = -Infinity;
  private lastPublished = '';
  private failing = false;

  constructor(
    readonly groupId: string,
    private readonly connect: () => Promise<GroupOffsetClient>,
    private readonly logger: Logger,
    private readonly intervalMs = 0
  ) {}

  publish(offsets: Map<string, bigint>): void {
    this.pending = offsets;
    if (this.running !== undefined || this.timer !== undefined) return;
    const wait = this.lastStarted + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.start();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, wait);
    // A driver that is done does not wait for the mirror: close() publishes what is pending.
    this.timer.unref();
  }

  /** Publishes what is pending now and waits for it (up to `timeoutMs`), then disconnects. */
  async close(timeoutMs = 5000): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + timeoutMs;
    while ((this.running !== undefined || this.pending !== undefined) && Date.now() < deadline) {
      if (this.running === undefined) this.start();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline - Date.now())));
      await Promise.race([this.running, timeout]);
      clearTimeout(timer);
      // Offsets that came while that one ran were scheduled: closing publishes them now.
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.publisher?.close().catch(() => undefined);
    this.publisher = undefined;
  }

  private start(): void {
    const offsets = this.pending;
    if (offsets === undefined) return;
    this.pending = undefined;
    this.lastStarted = Date.now();
    this.running = this.commit(offsets).finally(() => {
      this.running = undefined;
      if (this.pending !== undefined) this.publish(this.pending);
    });
  }

  private async commit(offsets: Map<string, bigint>): Promise<void> {
    const fingerprint = JSON.stringify([...offsets].map(([k, v]) => [k, String(v)]));
    if (fingerprint === this.lastPublished) return;
    try {
      this.publisher ??= await this.connect();
      await this.publisher.commit(this.groupId, offsets);
      this.lastPublished = fingerprint;
      if (this.failing) this.logger.info({ group: this.groupId }, 'consumer group offsets published again');
      this.failing = false;
    } catch (e) {
      // Log once per streak of failures, not on every batch.
      if (!this.failing)
        this.logger.warn({ group: this.groupId, err: (e as Error).message }, 'could not publish offsets to the consumer group');
      this.failing = true;
      const stale = this.publisher;
      this.publisher = undefined;
      await stale?.close().catch(() => undefined);
    }
  }
}
