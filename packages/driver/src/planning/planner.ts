import {
  ConfigError,
  DataLossError,
  KafkaUnavailableError,
  partitionKey,
  type OffsetRange,
  type OffsetSkip,
  type StartingOffsets,
  type TopicPartition,
} from '@sluice/common';
import { recordCaps, type RateLimits } from './rate-limits';

/**
 * Batch planning as Spark's DirectKafkaInputDStream does it, as a pure function: one range per
 * partition, `from` = checkpoint (or the starting offset of a partition seen for the first time),
 * `until` = min(latest, stop target, from + cap), the cap from {@link recordCaps}.
 */

export interface PlanInput {
  partitions: TopicPartition[];
  /** Checkpointed next offsets, by `topic:partition`. */
  checkpoint: Map<string, bigint>;
  latest: Map<string, bigint>;
  earliest: Map<string, bigint>;
  /** Applies only on the job's very first batch (empty checkpoint), as Spark's `startingOffsets`. */
  startingOffsets: StartingOffsets;
  /** Records per second per partition; 0 = no cap. */
  maxRatePerPartition: number;
  batchIntervalMs: number;
  /** The other rate limits (see {@link RateLimits}); absent ones do not apply. */
  minRatePerPartition?: number;
  maxRecordsPerBatch?: number;
  perPartition?: RateLimits['perPartition'];
  estimatedRate?: number;
  /** Bounded runs: never plan beyond these offsets; partitions absent here get empty ranges. */
  stopAt?: Map<string, bigint>;
  /**
   * With `startingOffsets: { timestamp }`: the offset of the first record at or after the timestamp,
   * per partition; a partition absent here (no such record yet) starts at latest.
   */
  timestampOffsets?: Map<string, bigint>;
  /** The job's first batch (default: the checkpoint is empty): only then do `startingOffsets` apply. */
  firstBatch?: boolean;
  /** Data loss (checkpoint below the log start, or beyond the latest offset): throw (default) or skip. */
  failOnDataLoss?: boolean;
}

export interface PlannedBatch {
  ranges: OffsetRange[];
  skips: OffsetSkip[];
}

export function planRanges(input: PlanInput): OffsetRange[] {
  return planBatch(input).ranges;
}

export function planBatch(input: PlanInput): PlannedBatch {
  const firstBatch = input.firstBatch ?? input.checkpoint.size === 0;
  const failOnDataLoss = input.failOnDataLoss ?? true;
  const skips: OffsetSkip[] = [];
  const bounds = input.partitions.map((tp) => {
    const key = partitionKey(tp);
    const latest = required(input.latest, key, 'latest offset');
    const earliest = required(input.earliest, key, 'earliest offset');
    const checkpointed = input.checkpoint.get(key);
    let from =
      checkpointed ??
      startingOffset(tp, firstBatch ? input.startingOffsets : 'earliest', earliest, latest, input.timestampOffsets?.get(key));
    if (from > latest) {
      if (failOnDataLoss || checkpointed === undefined) {
        throw new DataLossError(
          tp.topic,
          tp.partition,
          from,
          `the checkpoint is beyond the latest offset ${latest} (topic recreated or log truncated); ` +
            `failOnDataLoss=false restarts it at its earliest offset ${earliest}`
        );
      }
      skips.push({ ...tp, checkpoint: from, from: earliest, lost: 0n, reason: 'reset' });
      from = earliest;
    }
    if (from < earliest) {
      if (failOnDataLoss || checkpointed === undefined) {
        throw new DataLossError(
          tp.topic,
          tp.partition,
          from,
          `offsets below ${earliest} were deleted (retention); the checkpoint points before them ` +
            `(failOnDataLoss=false skips to ${earliest}, counting ${earliest - from} lost records)`
        );
      }
      skips.push({ ...tp, checkpoint: from, from: earliest, lost: earliest - from, reason: 'retention' });
      from = earliest;
    }
    let until = latest;
    if (input.stopAt) {
      const stop = input.stopAt.get(key) ?? from;
      if (stop < until) until = stop > from ? stop : from;
    }
    return { tp, key, from, until };
  });
  const caps = recordCaps(new Map(bounds.map((b) => [b.key, b.until - b.from])), {
    batchIntervalMs: input.batchIntervalMs,
    maxRatePerPartition: input.maxRatePerPartition,
    minRatePerPartition: input.minRatePerPartition ?? 1,
    maxRecordsPerBatch: input.maxRecordsPerBatch ?? 0,
    perPartition: input.perPartition,
    estimatedRate: input.estimatedRate,
  });
  const ranges = bounds.map(({ tp, key, from, until }) => {
    const cap = caps.get(key);
    return {
      topic: tp.topic,
      partition: tp.partition,
      fromOffset: from,
      untilOffset: cap !== undefined && from + cap < until ? from + cap : until,
    };
  });
  return { ranges, skips };
}

function startingOffset(
  tp: TopicPartition,
  starting: StartingOffsets,
  earliest: bigint,
  latest: bigint,
  byTimestamp: bigint | undefined
): bigint {
  if (starting === 'earliest') return earliest;
  if (starting === 'latest') return latest;
  if (isTimestamp(starting)) {
    // No record at or after the timestamp yet: the next one written will be.
    if (byTimestamp === undefined || byTimestamp < 0n || byTimestamp > latest) return latest;
    return byTimestamp < earliest ? earliest : byTimestamp;
  }
  const explicit = starting[tp.topic]?.[String(tp.partition)];
  // Partitions the JSON does not name start at latest, like Kafka's default auto.offset.reset.
  if (explicit === undefined) return latest;
  const offset = BigInt(explicit);
  if (offset < earliest || offset > latest) {
    throw new ConfigError(
      `'job.startingOffsets' gives ${offset} for ${tp.topic}-${tp.partition}, outside its offsets [${earliest}, ${latest}]`
    );
  }
  return offset;
}

export function isTimestamp(starting: StartingOffsets): starting is { timestamp: number } {
  return typeof starting === 'object' && typeof (starting as { timestamp?: unknown }).timestamp === 'number';
}

function required(map: Map<string, bigint>, key: string, what: string): bigint {
  const value = map.get(key);
  if (value === undefined) throw new KafkaUnavailableError(`Kafka returned no ${what} for ${key}`);
  return value;
}
