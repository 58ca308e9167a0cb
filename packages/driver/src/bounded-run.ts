import {
  ConfigError,
  partitionKey,
  type BatchPlan,
  type CheckpointStore,
  type OffsetOracle,
  type SluiceConfig,
  type TopicPartition,
} from '@sluice/common';
import { isTimestamp } from './planning/planner';

/** Where a bounded run stops (`driver.until`, other than `none`). */
export type Until = Exclude<SluiceConfig['driver']['until'], 'none'>;

/** Offsets done of the total a bounded run has to cover. */
export interface BoundedProgress {
  done: number;
  total: number;
}

/**
 * Where a bounded run stops, per partition: everything present at start (`latest`), the first
 * offset at or after a time, or explicit offsets (partitions not named are not read).
 */
export async function stopOffsets(
  oracle: Pick<OffsetOracle, 'latestOffsets' | 'offsetsForTimes'>,
  partitions: TopicPartition[],
  until: Until
): Promise<Map<string, bigint>> {
  const latest = await oracle.latestOffsets(partitions);
  if (until === 'latest') return latest;
  if (isTimestamp(until)) return oracle.offsetsForTimes(partitions, BigInt(until.timestamp));
  const stops = new Map<string, bigint>();
  for (const tp of partitions) {
    const given = until[tp.topic]?.[String(tp.partition)];
    if (given === undefined) continue;
    const stop = BigInt(given);
    const end = latest.get(partitionKey(tp)) ?? 0n;
    if (stop > end) {
      throw new ConfigError(`'driver.until' stops ${partitionKey(tp)} at ${stop}, beyond its latest offset ${end}`);
    }
    stops.set(partitionKey(tp), stop);
  }
  return stops;
}

/**
 * A bounded run (`driver.until`): where each partition stops (planning caps its ranges there), and
 * where it started and stands, for the progress report.
 */
export class BoundedRun {
  private readonly start = new Map<string, bigint>();
  private readonly at = new Map<string, bigint>();

  constructor(readonly stopAt: Map<string, bigint>) {}

  /** Every partition's checkpoint is at its stop offset: the run is done. */
  async reached(store: Pick<CheckpointStore, 'readOffsets'>): Promise<boolean> {
    const committed = await store.readOffsets();
    return [...this.stopAt].every(([key, stop]) => (committed.get(key) ?? -1n) >= stop);
  }

  /**
   * A bounded run does not wait for what can no longer be read: the partitions of deleted topics
   * (or deleted assigned partitions, named `topic-partition`).
   */
  leaveOut(missing: string[]): void {
    if (missing.length === 0) return;
    for (const key of [...this.stopAt.keys()]) {
      const topic = key.slice(0, key.lastIndexOf(':'));
      if (missing.includes(topic) || missing.includes(`${topic}-${key.slice(key.lastIndexOf(':') + 1)}`)) this.stopAt.delete(key);
    }
  }

  /** Offsets done of the total a bounded run has to cover, counted from where each partition started. */
  progressAfter(plan: BatchPlan): BoundedProgress {
    for (const r of plan.ranges) {
      const key = partitionKey(r);
      if (!this.start.has(key)) this.start.set(key, r.fromOffset);
      this.at.set(key, r.untilOffset);
    }
    let done = 0n;
    let total = 0n;
    for (const [key, stop] of this.stopAt) {
      const start = this.start.get(key) ?? stop;
      const reached = this.at.get(key) ?? start;
      total += stop > start ? stop - start : 0n;
      done += reached > start ? (reached < stop ? reached : stop) - start : 0n;
    }
    return { done: Number(done), total: Number(total) };
  }
}
