/**
 * The client-neutral Kafka access layer. The driver needs an {@link OffsetOracle}, executors a
 * {@link RangeReader}, monitoring a {@link GroupOffsetClient}. No client type leaks through
 * these interfaces, so kafkajs can be swapped for another client behind them.
 */

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** `[fromOffset, untilOffset)` of one partition. */
export interface OffsetRange extends TopicPartition {
  fromOffset: bigint;
  untilOffset: bigint;
}

export type Isolation = 'read_committed' | 'read_uncommitted';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One Kafka record as jobs see it. Offsets and timestamps are bigint; key and value may be null (tombstones). */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** Milliseconds since the epoch (CreateTime or LogAppendTime, as the topic says). */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  /** Read-only: records without headers share one frozen empty list. */
  headers: readonly RecordHeader[];
}

/** `topic:partition`, the field name used in Redis and in maps keyed by partition. */
export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`;
}

/** Latest and earliest offsets of the same partitions, keyed by {@link partitionKey}. */
export interface OffsetBounds {
  latest: Map<string, bigint>;
  earliest: Map<string, bigint>;
}

export interface PartitionsWithBounds extends OffsetBounds {
  /** Every partition of the topics, sorted by topic (in the order asked) then partition. */
  partitions: TopicPartition[];
}

export interface OffsetOracle {
  /** Partitions of the given topics. Throws `TopicNotFoundError` naming every missing topic. */
  listPartitions(topics: string[]): Promise<TopicPartition[]>;
  /** Next offset to be written (the LSO under read_committed, else the high watermark), keyed by {@link partitionKey}. */
  latestOffsets(tps: TopicPartition[]): Promise<Map<string, bigint>>;
  /** {@link latestOffsets} and the log start offsets (`earliest`) of the same partitions, both asked for at once. */
  offsetBounds(tps: TopicPartition[]): Promise<OffsetBounds>;
  /**
   * {@link listPartitions} (all partitions of `topics`, from fresh metadata) with the
   * {@link offsetBounds} of those `select` keeps (all by default), in about the time of one of them:
   * the offsets of the partitions already known are asked for while the metadata is refreshed.
   * Throws as {@link listPartitions} does.
   */
  partitionsWithBounds(topics: string[], select?: (tp: TopicPartition) => boolean): Promise<PartitionsWithBounds>;
  /**
   * Per partition, the offset of the first record whose timestamp is at or after `timestampMs`
   * (ms since the epoch, not negative), with the same isolation as {@link latestOffsets}. Where no
   * such record exists (the time is after the last record) the answer is the latest offset, where
   * Kafka's `offsetsForTimes` gives null. Keyed by {@link partitionKey}.
   */
  offsetsForTimes(tps: TopicPartition[], timestampMs: bigint): Promise<Map<string, bigint>>;
  /** Every non-internal topic of the cluster, sorted, from fresh metadata on each call (regex subscriptions). */
  listTopics(): Promise<string[]>;
  /**
   * Per range, the timestamp (ms since the epoch) of the first record visible at or after
   * `fromOffset` and before `untilOffset`, or null when there is none (only transaction markers,
   * aborted or compacted records): with the checkpoint as `from`, the oldest record not yet
   * processed. Reads about one record batch per partition, on a connection of its own, so it never
   * delays the other calls. A range missing from the answer could not be read this time.
   */
  firstRecordTimestamps(ranges: OffsetRange[]): Promise<Map<string, bigint | null>>;
  close(): Promise<void>;
}

export interface ReadOptions {
  /** Stop early (task cancelled or timed out). */
  signal?: AbortSignal;
  /** A retry after a failure: drop cached connections for this partition and start fresh. */
  freshConnection?: boolean;
}

export interface RangeReader {
  /**
   * Yields exactly the records with `fromOffset <= offset < untilOffset` that are visible under the
   * reader's isolation level, in offset order, in chunks as fetched. Gap-tolerant: compaction holes,
   * transaction markers and aborted records are skipped. `from == until` yields nothing and fetches nothing.
   * @throws DataLossError when `from` is no longer in the log; RangeNotVisibleError when `until` is beyond
   *   what the broker exposes.
   */
  read(range: OffsetRange, options?: ReadOptions): AsyncIterable<SourceRecord[]>;
  /**
   * Reads several small ranges together (one Fetch per broker and round, on one connection).
   * Returns the records of each range read completely, keyed by {@link partitionKey}; a range left
   * out (an error, a leader change, a gap at its end) is to be read with {@link read}, which reports
   * such cases properly. Optional: without it every range is read on its own.
   */
  readAll?(ranges: OffsetRange[], options?: ReadOptions): Promise<Map<string, SourceRecord[]>>;
  /**
   * `range` is committed: the partition's next range most likely starts at its `untilOffset` on
   * this executor (placement is sticky), so a reader may fetch from there ahead of the next task.
   * Optional.
   */
  committed?(range: OffsetRange): void;
  close(): Promise<void>;
}

/** A consumer group's committed offsets, written and read without joining it. */
export interface GroupOffsetClient {
  /** Commits `offsets` (next offset to read, keyed by {@link partitionKey}) to a group that nobody joins. */
  commit(groupId: string, offsets: Map<string, bigint>): Promise<void>;
  /** The group's committed offsets of `tps`, keyed by {@link partitionKey}; a partition without one is left out. */
  fetch(groupId: string, tps: TopicPartition[]): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}

/** Connection and fetch settings shared by every Kafka client of a process (validated in `config`). */
export interface KafkaClientConfig {
  brokers: string[];
  clientId: string;
  isolation: Isolation;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /** Upper bound of one fetch response; with `partitionMaxBytes` it bounds an executor's memory per task. */
  fetchMaxBytes: number;
  partitionMaxBytes: number;
  /** How long the broker may hold a fetch open waiting for data. */
  fetchMaxWaitMs: number;
  /** Bounded retries (with backoff) for leader changes and dropped connections. */
  retries: number;
  /** TLS to the brokers; CA bundle, client certificate and key as PEM files. */
  ssl?: boolean;
  sslCaFile?: string;
  sslCertFile?: string;
  sslKeyFile?: string;
  sslRejectUnauthorized?: boolean;
  /** SASL: mechanism, user and the file holding the password. */
  saslMechanism?: 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  saslUsername?: string;
  saslPasswordFile?: string;
}
