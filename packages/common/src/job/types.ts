import type { Logger } from '../logging';
import type { KafkaClientConfig, SourceRecord } from '../kafka/types';
import type { StartingOffsets, TopicAssignment } from '../config/schema';

/** Where the records of one `process` call come from. Also the coordinates idempotent sinks key on. */
export interface ProcessContext {
  job: string;
  batchId: number;
  topic: string;
  partition: number;
  /** The chunk being processed: `[fromOffset, untilOffset)`, a part (or all) of the task's range. */
  fromOffset: bigint;
  untilOffset: bigint;
  /** 0 for the first attempt of the task, 1 for the first retry, ... */
  attempt: number;
  logger: Logger;
}

/** A hash field, set member or value: a Buffer is stored byte for byte, a number as its decimal text. */
export type RedisValue = string | number | Buffer;

/**
 * A write that a Redis sink applies in the same Lua script that advances the offset. `key` is a
 * non-empty name inside the job's namespace; `by` is an integer.
 */
export type RedisWrite =
  | { op: 'hincrby'; key: string; field: RedisValue; by: number }
  | { op: 'incrby'; key: string; by: number }
  | { op: 'hset'; key: string; field: RedisValue; value: RedisValue }
  | { op: 'set'; key: string; value: RedisValue }
  | { op: 'sadd'; key: string; member: RedisValue }
  | { op: 'rpush'; key: string; value: RedisValue };

/**
 * How a sink reaches the checkpoint: the executor hands each sink a committer for one chunk.
 * `commit(writes)` applies the Redis writes and advances the offset in one atomic step.
 */
export interface ChunkCommitter {
  readonly context: ProcessContext;
  /** The epoch of the driver that planned the chunk's task; absent outside a task (dead-letter replay). */
  readonly epoch?: string;
  commit(writes: RedisWrite[]): Promise<CommitOutcome>;
  /**
   * Advances the checkpoint from the chunk's start to `offset`, inside the chunk, with no writes:
   * for a sink whose own store already holds that first part of the chunk (see `committedOffsets`).
   * Absent outside a task.
   */
  commitUpTo?(offset: bigint): Promise<CommitOutcome>;
}

export type CommitOutcome =
  /** Writes applied and offset advanced. */
  | { status: 'committed' }
  /** A later piece of a split range: kept until the pieces before it commit (see the commit script). */
  | { status: 'staged' }
  /** The offset was not at the chunk's start: another attempt committed it; nothing was applied. */
  | { status: 'skipped'; storedOffset: bigint | null };

export type DeliveryGuarantee = 'exactly-once' | 'at-least-once';

/** What a sink asks of the job's settings; checked in one place (`checkSinkSettings`) before a driver starts. */
export interface SinkRequirements {
  /** Each partition commits in offset order (the sink's store holds its offset): no skew splitting (`minPartitions`). */
  orderedCommits?: boolean;
  /** One attempt of a task at a time (a second one fences the first): no speculation. */
  singleAttempt?: boolean;
  /** The sink's store aborts a transaction open this long: it must outlast a task's attempts. */
  transactionTimeoutMs?: number;
  /** The consumer group the sink commits the job's offsets to, its authority: the driver does not mirror into a group then. */
  consumerGroup?(job: string): string;
}

export interface Sink<Out> {
  readonly kind: string;
  /** What the sink promises: exactly-once only when output is atomic with the offset advance. */
  readonly guarantee: DeliveryGuarantee;
  readonly requires?: SinkRequirements;
  /**
   * For a sink that writes to the job's own Kafka cluster: the process's connection settings
   * (`kafka.*` of the configuration). The executor, the driver and the CLI call it once, before
   * any other call.
   */
  useKafka?(config: KafkaClientConfig, logger: Logger): void;
  /**
   * What is wrong with one output of `process`, in terms of its fields (`value must be a string,
   * number or Buffer, got object`), or undefined when the sink can commit it. The executor asks
   * before committing: a record with an invalid output fails under the job's `onError` policy
   * (dead-lettered, or the task fails), with a message naming the record and the output.
   */
  validate?(output: unknown): string | undefined;
  commit(outputs: Out[], committer: ChunkCommitter): Promise<CommitOutcome>;
  /** Releases the sink's connections; the executor calls it at shutdown. */
  close?(): Promise<void>;
  /**
   * For a sink whose own store holds the job's offsets (the authority; Redis follows it forward):
   * the offsets stored there for these partitions (partitions without one are omitted). A driver
   * that becomes leader moves each Redis checkpoint that is behind forward to it before it plans.
   */
  committedOffsets?(
    partitions: Array<{ topic: string; partition: number }>,
    context: { job: string; logger: Logger }
  ): Promise<Array<{ topic: string; partition: number; offset: bigint }>>;
}

/** Where a job reads from: exactly one of `topics`, `pattern` and `assign` (Spark's Subscribe, SubscribePattern, Assign). */
export interface SourceSettings {
  /** All partitions of these topics; partitions added later join on the next batch. */
  topics?: string[];
  /**
   * Every topic whose whole name matches this regex, re-evaluated on every batch (topics created
   * later join on the next batch). Internal topics (names starting with `__`) are never matched.
   */
  pattern?: string;
  /** Exactly these partitions: `{ "topic": [0, 1] }`. */
  assign?: TopicAssignment;
  /**
   * For partitions without a checkpoint on the job's first batch: `earliest`, `latest` (default, as
   * Spark and Kafka's `auto.offset.reset`), `{ topic: { partition: offset } }` or `{ timestamp: ms }`.
   */
  startingOffsets?: StartingOffsets;
  /**
   * When records the checkpoint still needs are gone (retention, a deleted or recreated topic):
   * `true` (default) stops the job with SLUICE_DATA_LOSS; `false` skips to the earliest offset,
   * counts the loss and logs a warning.
   */
  failOnDataLoss?: boolean;
}

export interface BatchSettings {
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Records per second per partition; 0 = no cap (default). */
  maxRatePerPartition?: number;
  /** Floor in records per partition per batch once a rate limit applies; default 1. */
  minRatePerPartition?: number;
  /** Records per batch over all partitions, split by backlog share; 0 = no cap (default). */
  maxRecordsPerBatch?: number;
  /** Rate overrides by `topic` or `topic:partition`. */
  rateOverrides?: Record<string, { maxRatePerPartition?: number; minRatePerPartition?: number }>;
  /** Size batches by the processing rate measured so far (Spark's backpressure); default false. */
  backpressure?: boolean;
  /** Records/s of the first batch under backpressure, before any estimate; 0 = no limit (default). */
  initialRate?: number;
  /** Split ranges so a batch has at least this many tasks, as Structured Streaming's `minPartitions`; 0 = off (default). */
  minPartitions?: number;
}

export type ProcessResult<Out> = Iterable<Out> | void | Promise<Iterable<Out> | void>;

export interface JobDefinition<Out> {
  /** Scopes the job's Redis keys: `sluice:{<name>}:...`. */
  name: string;
  source: SourceSettings;
  batch?: BatchSettings;
  /**
   * Optional: turns one record's raw bytes into the `value` that `process` receives (the record is
   * passed on with `value` replaced). A record whose `decode` throws is a poison record.
   */
  decode?(record: SourceRecord): unknown;
  /** Runs on an executor for each chunk of a task's range; returns the outputs the sink commits. */
  process(records: SourceRecord[], context: ProcessContext): ProcessResult<Out>;
  sink: Sink<Out>;
  /**
   * Poison records (process or decode throws, record above `deadLetter.maxRecordBytes`): `fail`
   * (default) fails the task, then the job; `dead-letter` moves them to the job's dead-letter queue
   * once the task reached `deadLetter.maxAttempts`, and commits the rest. Config `deadLetter.policy` overrides it.
   */
  onError?: ErrorPolicy;
}

export type ErrorPolicy = 'fail' | 'dead-letter';

/** A validated job, as returned by `defineJob` and found by the loader. */
export interface Job<Out = unknown> extends JobDefinition<Out> {
  readonly __sluiceJob: true;
}
