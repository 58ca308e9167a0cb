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
  partitions: Array<{ topic: string; partition: number; committed: string; latest: string; lag: string }>;
}

/** Lag = latest - committed per partition (never negative), with total, min, max and average. */
export function lagReport(rows: PartitionOffsets[]): LagReport {
  const partitions = rows.map((r) => {
    const lag = r.latest > r.committed ? r.latest - r.committed : 0n;
    return { topic: r.topic, partition: r.partition, committed: String(r.committed), latest: String(r.latest), lag };
  });
  const total = partitions.reduce((n, p) => n + p.lag, 0n);
  const lags = partitions.map((p) => Number(p.lag));
  return {
    total: String(total),
    min: lags.length ? Math.min(...lags) : 0,
    max: lags.length ? Math.max(...lags) : 0,
    avg: lags.length ? Number(total) / lags.length : 0,
    partitions: partitions.map((p) => ({ ...p, lag: String(p.lag) })),
  };
}

/** Sorted by topic, then partition. */
export function sortPartitions<T extends { topic: string; partition: number }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}
