import {
  ConfigError,
  DataLossError,
  KafkaUnavailableError,
  partitionKey,
  type OffsetRange,
  type StartingOffsets,
  type TopicPartition,
} from '@sluice/common';

/**
 * Batch planning as Spark's DirectKafkaInputDStream does it, as a pure function: one range per
 * partition, `from` = checkpoint (or the starting offset of a partition seen for the first time),
 * `until` = min(latest, from + cap, stop target).
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
  /** Bounded runs: never plan beyond these offsets; partitions absent here get empty ranges. */
  stopAt?: Map<string, bigint>;
}

export function planRanges(input: PlanInput): OffsetRange[] {
  const firstBatch = input.checkpoint.size === 0;
  const cap = maxRecordsPerPartition(input.maxRatePerPartition, input.batchIntervalMs);
  return input.partitions.map((tp) => {
    const key = partitionKey(tp);
    const latest = required(input.latest, key, 'latest offset');
    const earliest = required(input.earliest, key, 'earliest offset');
    const from = input.checkpoint.get(key) ?? startingOffset(tp, firstBatch ? input.startingOffsets : 'earliest', earliest, latest);
    if (from > latest) {
      throw new DataLossError(
        tp.topic,
        tp.partition,
        from,
        `the checkpoint is beyond the latest offset ${latest} (topic recreated or log truncated)`
      );
    }
    if (from < earliest) {
      throw new DataLossError(
        tp.topic,
        tp.partition,
        from,
        `offsets below ${earliest} were deleted (retention); the checkpoint points before them`
      );
    }
    let until = latest;
    if (cap !== undefined && from + cap < until) until = from + cap;
    if (input.stopAt) {
      const stop = input.stopAt.get(key) ?? from;
      if (stop < until) until = stop > from ? stop : from;
    }
    return { topic: tp.topic, partition: tp.partition, fromOffset: from, untilOffset: until };
  });
}

/** Spark's static cap: `floor(batchSeconds * maxRatePerPartition)`, never below one record. */
export function maxRecordsPerPartition(maxRatePerPartition: number, batchIntervalMs: number): bigint | undefined {
  if (maxRatePerPartition <= 0) return undefined;
  return BigInt(Math.max(1, Math.floor((batchIntervalMs / 1000) * maxRatePerPartition)));
}

function startingOffset(tp: TopicPartition, starting: StartingOffsets, earliest: bigint, latest: bigint): bigint {
  if (starting === 'earliest') return earliest;
  if (starting === 'latest') return latest;
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

function required(map: Map<string, bigint>, key: string, what: string): bigint {
  const value = map.get(key);
  if (value === undefined) throw new KafkaUnavailableError(`Kafka returned no ${what} for ${key}`);
  return value;
}
