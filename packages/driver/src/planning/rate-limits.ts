/**
 * How many records each partition may contribute to one batch: Spark's `maxMessagesPerPartition`
 * (static `maxRatePerPartition`, or the backpressure estimate split by backlog share and capped by
 * it; never below `minRatePerPartition` records once any limit applies) plus Structured Streaming's
 * `maxRecordsPerBatch` (here `maxOffsetsPerTrigger`), split by backlog share with shares below one
 * record rounded up so small partitions never starve.
 */
export interface RateLimits {
  batchIntervalMs: number;
  /** Records/s per partition; 0 = no static cap. */
  maxRatePerPartition: number;
  /** Floor, in records per partition per batch, once a rate limit applies (Spark's default 1). */
  minRatePerPartition: number;
  /** Records per batch over all partitions; 0 = no cap. */
  maxRecordsPerBatch: number;
  /** Overrides by `topic:partition` or by `topic`. */
  perPartition?: Record<string, { maxRatePerPartition?: number; minRatePerPartition?: number }>;
  /** Backpressure: the stream-wide rate (records/s) the job was measured to sustain. */
  estimatedRate?: number;
}

/** @returns the cap of each partition that has one, by `topic:partition`; `backlog` = latest - from. */
export function recordCaps(backlog: Map<string, bigint>, limits: RateLimits): Map<string, bigint> {
  const seconds = limits.batchIntervalMs / 1000;
  const override = (key: string): { maxRatePerPartition?: number; minRatePerPartition?: number } =>
    limits.perPartition?.[key] ?? limits.perPartition?.[key.slice(0, key.lastIndexOf(':'))] ?? {};
  const totalBacklog = [...backlog.values()].reduce((a, b) => a + b, 0n);
  const caps = new Map<string, bigint>();

  const estimated = limits.estimatedRate ?? 0;
  for (const [key, lag] of backlog) {
    const maxRate = override(key).maxRatePerPartition ?? limits.maxRatePerPartition;
    let rate: number;
    if (estimated > 0) {
      const share = totalBacklog > 0n ? Number(lag) / Number(totalBacklog) : 0;
      rate = maxRate > 0 ? Math.min(share * estimated, maxRate) : share * estimated;
    } else {
      rate = maxRate;
    }
    if (estimated > 0 || maxRate > 0) {
      const minRecords = override(key).minRatePerPartition ?? limits.minRatePerPartition;
      caps.set(key, BigInt(Math.max(Math.floor(seconds * rate), minRecords)));
    }
  }

  if (limits.maxRecordsPerBatch > 0 && totalBacklog > 0n) {
    for (const [key, lag] of backlog) {
      if (lag === 0n) continue;
      const exact = (Number(lag) / Number(totalBacklog)) * limits.maxRecordsPerBatch;
      const share = BigInt(exact < 1 ? 1 : Math.floor(exact));
      const current = caps.get(key);
      caps.set(key, current === undefined || share < current ? share : current);
    }
  }
  return caps;
}
