import { KafkaJSConnectionError, KafkaJSTopicMetadataNotLoaded } from 'kafkajs';

import { TopicNotFoundError } from '../../errors';
import type { Logger } from '../../logging';
import { partitionKey, type KafkaClientConfig, type OffsetOracle, type TopicPartition } from '../types';
import {
  connectBounded,
  createDirectCluster,
  isUnknownTopic,
  setTargetTopics,
  type KafkajsBrokerMetadata,
  toSluiceError,
  withMetadataRetry,
  type DirectCluster,
} from './direct-cluster';
import { registerCodecs } from './codecs';

/**
 * The driver's view of Kafka: partitions, latest (LSO under read_committed) and earliest offsets.
 * Calls are serialised: the cluster holds one metadata snapshot, which each call points at its topics.
 */
export class KafkajsOffsetOracle implements OffsetOracle {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly cluster: DirectCluster,
    private readonly config: KafkaClientConfig,
    private readonly logger: Logger
  ) {}

  listPartitions(topics: string[]): Promise<TopicPartition[]> {
    return this.serial(async () => {
      const unique = [...new Set(topics)];
      if (unique.length === 0) return [];
      // Always refresh: new partitions must show up on the next batch.
      await this.retry(`Metadata ${unique.join(',')}`, () => this.refresh(unique, true), unique);
      const out: TopicPartition[] = [];
      for (const topic of unique) {
        const partitions = this.cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        partitions.sort((a, b) => a - b);
        for (const partition of partitions) out.push({ topic, partition });
      }
      return out;
    });
  }

  latestOffsets(tps: TopicPartition[]): Promise<Map<string, bigint>> {
    return this.serial(() => this.listOffsets(tps, 'latest'));
  }

  earliestOffsets(tps: TopicPartition[]): Promise<Map<string, bigint>> {
    return this.serial(() => this.listOffsets(tps, 'earliest'));
  }

  offsetsForTimes(tps: TopicPartition[], timestampMs: bigint): Promise<Map<string, bigint>> {
    // Negative timestamps are ListOffsets's sentinels (-1 latest, -2 earliest, -3 max timestamp).
    if (timestampMs < 0n) return Promise.reject(new RangeError(`offsetsForTimes: timestamp ${timestampMs} is negative`));
    return this.serial(async () => {
      // Latest first: where the broker finds no record at or after the time (offset -1), the answer
      // is this earlier latest offset, so a record appended between the two requests is never skipped.
      const latest = await this.listOffsets(tps, 'latest');
      const found = await this.listOffsets(tps, timestampMs);
      for (const [key, offset] of found) {
        if (offset < 0n) found.set(key, latest.get(key) ?? offset);
      }
      return found;
    });
  }

  listTopics(): Promise<string[]> {
    return this.serial(() =>
      this.retry(
        'Metadata (all topics)',
        async () => {
          // Asks a broker every time (kafkajs's cached snapshot is not used for the answer).
          const all = await this.allTopicsMetadata();
          return all.topicMetadata
            .filter((t) => t.isInternal !== true)
            .map((t) => t.topic)
            .sort();
        },
        []
      )
    );
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.cluster.disconnect();
  }

  /**
   * One ListOffsets per leader for all topics, with the cluster's isolation level (so LSO under
   * read_committed). `at` is earliest, latest or a timestamp in ms (offset of the first record
   * with a timestamp at or after it, or -1 when there is none below the latest offset).
   */
  private async listOffsets(tps: TopicPartition[], at: 'earliest' | 'latest' | bigint): Promise<Map<string, bigint>> {
    const byTopic = new Map<string, number[]>();
    for (const tp of tps) {
      const ps = byTopic.get(tp.topic) ?? [];
      if (!ps.includes(tp.partition)) ps.push(tp.partition);
      byTopic.set(tp.topic, ps);
    }
    const result = new Map<string, bigint>();
    if (byTopic.size === 0) return result;
    const topics = [...byTopic.keys()];
    const what = `ListOffsets(${typeof at === 'bigint' ? `timestamp ${at}` : at}) ${topics.join(',')}`;
    await this.retry(
      what,
      async () => {
        await this.refresh(topics, false);
        const res = await this.fetchTopicsOffset(
          [...byTopic].map(([topic, ps]) => ({
            topic,
            fromBeginning: at === 'earliest',
            ...(typeof at === 'bigint' ? { fromTimestamp: at.toString() } : {}),
            partitions: ps.map((partition) => ({ partition })),
          }))
        );
        for (const t of res) {
          for (const p of t.partitions) {
            result.set(partitionKey({ topic: t.topic, partition: p.partition }), BigInt(p.offset));
          }
        }
        // fetchTopicsOffset silently skips partitions missing from the cached metadata (new
        // partitions, stale snapshot): treat that as stale metadata and retry after a refresh.
        const missing = tps.filter((tp) => !result.has(partitionKey(tp)));
        if (missing.length > 0) {
          throw new KafkaJSTopicMetadataNotLoaded(`no leader known for ${missing.map(partitionKey).join(',')}`, {
            topic: missing[0]?.topic ?? '',
          });
        }
      },
      topics
    );
    return result;
  }

  /**
   * ListOffsets through kafkajs. A topic deleted since the cached metadata was taken fails with
   * UNKNOWN_TOPIC_OR_PARTITION: a topic listing tells a deleted topic (`TopicNotFoundError` at once,
   * no retries) from one that is only not everywhere yet (retried).
   */
  private async fetchTopicsOffset(
    request: Parameters<DirectCluster['fetchTopicsOffset']>[0]
  ): ReturnType<DirectCluster['fetchTopicsOffset']> {
    try {
      return await this.cluster.fetchTopicsOffset(request);
    } catch (e) {
      if (!isUnknownTopic(e)) throw e;
      const missing = await this.missingTopics(request.map((t) => t.topic));
      if (missing.length > 0) throw new TopicNotFoundError(missing);
      throw e;
    }
  }

  /**
   * Points the metadata at `topics` and refreshes it. A missing topic fails the whole Metadata
   * request and kafkajs names only the first, so on UNKNOWN_TOPIC_OR_PARTITION a full topic
   * listing decides: topics absent there are reported all at once; otherwise (a topic just
   * created, not yet everywhere) the error is retried.
   */
  private async refresh(topics: string[], force: boolean): Promise<void> {
    setTargetTopics(this.cluster, topics);
    try {
      await (force ? this.cluster.refreshMetadata() : this.cluster.refreshMetadataIfNecessary());
    } catch (e) {
      if (!isUnknownTopic(e)) throw e;
      const missing = await this.missingTopics(topics);
      if (missing.length > 0) throw new TopicNotFoundError(missing);
      throw e;
    }
  }

  private async missingTopics(topics: string[]): Promise<string[]> {
    const all = await this.allTopicsMetadata();
    const existing = new Set(all.topicMetadata.map((t) => t.topic));
    return topics.filter((t) => !existing.has(t));
  }

  /** Metadata of every topic, straight from a broker. */
  private async allTopicsMetadata(): Promise<KafkajsBrokerMetadata> {
    // An empty topic list asks for every topic (kafkajs encodes [] as null). `metadata()` returns
    // null instead of throwing when every broker failed: treat that as a connection problem.
    const all = (await this.cluster.metadata({ topics: [] })) as KafkajsBrokerMetadata | null;
    if (all === null) throw new KafkaJSConnectionError('no broker answered a topic listing');
    return all;
  }

  private retry<T>(operation: string, fn: () => Promise<T>, topics: string[]): Promise<T> {
    return withMetadataRetry({ operation, config: this.config, cluster: this.cluster, logger: this.logger, topics }, fn).catch(
      (e: unknown) => {
        throw isUnknownTopic(e) ? new TopicNotFoundError(topics) : toSluiceError(e, operation, this.config, topics);
      }
    );
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * Connects an {@link OffsetOracle} for the driver.
 * @throws KafkaUnavailableError when no broker answers within about `2 × connectionTimeoutMs`.
 */
export async function createKafkajsOffsetOracle(config: KafkaClientConfig, logger: Logger): Promise<OffsetOracle> {
  const log = logger.child({ component: 'kafka-oracle' });
  registerCodecs();
  const cluster = createDirectCluster(config, log);
  await connectBounded(cluster, config);
  return new KafkajsOffsetOracle(cluster, config, log);
}
