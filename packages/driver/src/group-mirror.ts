import type { GroupOffsetPublisher, Logger } from '@sluice/common';

/**
 * Mirrors committed offsets into a Kafka consumer group that nobody joins, so Kafka's own lag tools
 * (kafka-consumer-groups.sh, Burrow, exporters) show the job's progress. Best effort and off the
 * critical path: a publication runs in the background, a newer one replaces one still waiting, and
 * a failure only logs a warning (the next batch publishes again). The Redis checkpoint stays the truth.
 */
export class GroupMirror {
  private publisher: GroupOffsetPublisher | undefined;
  private pending: Map<string, bigint> | undefined;
  private running: Promise<void> | undefined;
  private lastPublished = '';
  private failing = false;

  constructor(
    readonly groupId: string,
    private readonly connect: () => Promise<GroupOffsetPublisher>,
    private readonly logger: Logger
  ) {}

  publish(offsets: Map<string, bigint>): void {
    this.pending = offsets;
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Waits (up to `timeoutMs`) for the last publication, then disconnects. */
  async close(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.running ?? Promise.resolve(), timeout]);
    clearTimeout(timer);
    await this.publisher?.close().catch(() => undefined);
    this.publisher = undefined;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const offsets = this.pending;
      this.pending = undefined;
      const fingerprint = JSON.stringify([...offsets].map(([k, v]) => [k, String(v)]));
      if (fingerprint === this.lastPublished) continue;
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
}
