import { partitionKey, type OffsetOracle, type TopicPartition } from '@sluice/common';
import { sortPartitions, type OldestRecords, type PartitionOffsets } from './lag';

export interface OffsetsSources {
  oracle: OffsetOracle;
  /** The job's partitions now (its subscription resolved). */
  partitions: () => Promise<TopicPartition[]>;
  /**
   * Where the job stands per partition, keyed by `partitionKey`: the Redis checkpoint, or in
   * receiver mode the receivers' consumer group (what they received and logged).
   */
  committed: (tps: TopicPartition[]) => Promise<Map<string, bigint>>;
  /** How long a snapshot is served before the next call refreshes it. */
  maxAgeMs?: number;
}

/**
 * Committed, latest and earliest offsets of every partition of the job, as one snapshot cached
 * for `maxAgeMs` so that API calls, scrapes and probes do not hammer Kafka. Concurrent callers
 * share one refresh.
 */
export class OffsetsView {
  private cached: { at: number; rows: PartitionOffsets[] } | undefined;
  private inflight: Promise<PartitionOffsets[]> | undefined;
  /** The timestamps of {@link withOldestRecords}, read once per snapshot. */
  private oldest: { rows: PartitionOffsets[]; timestamps: Promise<Map<string, bigint | null>> } | undefined;

  constructor(private readonly sources: OffsetsSources) {}

  async snapshot(): Promise<PartitionOffsets[]> {
    if (this.cached && Date.now() - this.cached.at < (this.sources.maxAgeMs ?? 1000)) return this.cached.rows;
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /**
   * {@link snapshot}, and when the oldest record not yet processed of each lagging partition was
   * written: one small read per lagging partition at its checkpoint, at most once per snapshot
   * (so once per `maxAgeMs`). A partition whose read failed is left out of the timestamps.
   */
  async withOldestRecords(): Promise<{ rows: PartitionOffsets[]; oldest: OldestRecords }> {
    const rows = await this.snapshot();
    if (this.oldest?.rows !== rows) {
      const lagging = rows
        .filter((r) => r.latest > r.committed)
        .map((r) => ({ topic: r.topic, partition: r.partition, fromOffset: r.committed, untilOffset: r.latest }));
      const timestamps =
        lagging.length === 0
          ? Promise.resolve(new Map<string, bigint | null>())
          : this.sources.oracle.firstRecordTimestamps(lagging).catch(() => new Map<string, bigint | null>());
      this.oldest = { rows, timestamps };
    }
    return { rows, oldest: { timestamps: await this.oldest.timestamps, now: Date.now() } };
  }

  private async refresh(): Promise<PartitionOffsets[]> {
    const partitions = await this.sources.partitions();
    const [{ latest, earliest }, checkpoint] = await Promise.all([
      this.sources.oracle.offsetBounds(partitions),
      this.sources.committed(partitions),
    ]);
    const rows = sortPartitions(
      partitions.map((tp) => {
        const key = partitionKey(tp);
        const early = earliest.get(key) ?? 0n;
        return { ...tp, committed: checkpoint.get(key) ?? early, latest: latest.get(key) ?? 0n, earliest: early };
      })
    );
    this.cached = { at: Date.now(), rows };
    return rows;
  }
}
