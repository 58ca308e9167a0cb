import { partitionKey, type OffsetRange } from '@sluice/common';

/** Offsets of one partition as the API and the metrics show them (pure data, no I/O). */
export interface PartitionOffsets {
  topic: string;
  partition: number;
  /** Checkpointed next offset; a partition without a checkpoint counts from its earliest offset. */
  committed: bigint;
  latest: bigint;
  earliest: bigint;
}

export interface LagReport {
  total: string;
  min: number;
  max: number;
  avg: number;
  /** The largest {@link PartitionLag.lagSeconds} known (0 without partitions); null when none is known. */
  maxSeconds: number | null;
  partitions: PartitionLag[];
}

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: string;
  latest: string;
  lag: string;
  /**
   * Age of the oldest record not yet processed (time lag), in seconds: 0 without lag (or when the
   * lag holds no record to process, only transaction markers or aborted records); null when unknown.
   */
  lagSeconds: number | null;
}

/** When the oldest record not yet processed of each lagging partition was written (see {@link lagReport}). */
export interface OldestRecords {
  /** By `topic:partition`: its timestamp (ms), or null when the lag holds no record; absent when unknown. */
  timestamps: Map<string, bigint | null>;
  /** Now, in ms since the epoch. */
  now: number;
}

/**
 * Lag = latest - committed per partition (never negative), with total, min, max and average; with
 * `oldest`, also the time lag per partition and its maximum.
 */
export function lagReport(rows: PartitionOffsets[], oldest?: OldestRecords): LagReport {
  const partitions = rows.map((r) => {
    const lag = r.latest > r.committed ? r.latest - r.committed : 0n;
    return { topic: r.topic, partition: r.partition, committed: String(r.committed), latest: String(r.latest), lag };
  });
  const total = partitions.reduce((n, p) => n + p.lag, 0n);
  const lags = partitions.map((p) => Number(p.lag));
  const withSeconds = partitions.map((p) => ({ ...p, lag: String(p.lag), lagSeconds: lagSeconds(p, p.lag, oldest) }));
  const known = withSeconds.flatMap((p) => (p.lagSeconds === null ? [] : [p.lagSeconds]));
  return {
    total: String(total),
    min: lags.length ? Math.min(...lags) : 0,
    max: lags.length ? Math.max(...lags) : 0,
    avg: lags.length ? Number(total) / lags.length : 0,
    maxSeconds: known.length ? Math.max(...known) : partitions.length ? null : 0,
    partitions: withSeconds,
  };
}

function lagSeconds(tp: { topic: string; partition: number }, lag: bigint, oldest: OldestRecords | undefined): number | null {
  if (lag === 0n) return 0;
  const timestamp = oldest?.timestamps.get(partitionKey(tp));
  if (oldest === undefined || timestamp === undefined) return null;
  // A record stamped in the future (a producer's clock ahead) is no older than now.
  return timestamp === null ? 0 : Math.max(0, oldest.now - Number(timestamp)) / 1000;
}

/** Sorted by topic, then partition. */
export function sortPartitions<T extends { topic: string; partition: number }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** The job's lag when a batch was planned: the offsets there were to read, that batch's and later ones'. */
export interface LagSample {
  batch: number;
  /** The batch's time (ms since the epoch). */
  time: number;
  lag: string;
}

/** Lag over time: a sample per planned batch, the newest `capacity` of them, in memory. */
export class LagHistory {
  private readonly samples: LagSample[] = [];

  constructor(private readonly capacity: number) {}

  /** The lag of `ranges` (from each range's start to its partition's latest offset) as of planning `batch`. */
  add(batch: number, time: number, ranges: OffsetRange[], latest: Map<string, bigint>): void {
    let lag = 0n;
    for (const r of ranges) {
      const end = latest.get(partitionKey(r)) ?? r.untilOffset;
      if (end > r.fromOffset) lag += end - r.fromOffset;
    }
    this.samples.push({ batch, time, lag: String(lag) });
    if (this.samples.length > this.capacity) this.samples.shift();
  }

  /** The newest `limit` samples, newest first. */
  newest(limit: number): LagSample[] {
    return this.samples.slice(Math.max(0, this.samples.length - limit)).reverse();
  }
}
