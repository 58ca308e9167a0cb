import { partitionKey, type CheckpointStore, type OffsetOracle, type TopicPartition } from '@sluice/common';
import { sortPartitions, type PartitionOffsets } from './lag';

/**
 * Checkpoint, latest and earliest offsets of every partition of the job, as one snapshot cached
 * for `maxAgeMs` so that API calls, scrapes and probes do not hammer Kafka. Concurrent callers
 * share one refresh.
 */
export class OffsetsView {
  private cached: { at: number; rows: PartitionOffsets[] } | undefined;
  private inflight: Promise<PartitionOffsets[]> | undefined;

  constructor(
    private readonly oracle: OffsetOracle,
    private readonly store: CheckpointStore,
    /** The job's partitions now (its subscription resolved). */
    private readonly partitions: () => Promise<TopicPartition[]>,
    private readonly maxAgeMs = 1000
  ) {}

  async snapshot(): Promise<PartitionOffsets[]> {
    if (this.cached && Date.now() - this.cached.at < this.maxAgeMs) return this.cached.rows;
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async refresh(): Promise<PartitionOffsets[]> {
    const partitions = await this.partitions();
    const [{ latest, earliest }, checkpoint] = await Promise.all([this.oracle.offsetBounds(partitions), this.store.readOffsets()]);
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
