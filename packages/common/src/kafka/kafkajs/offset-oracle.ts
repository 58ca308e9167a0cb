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
    return this.serial(() => this.listOffsets(tps, false));
  }

  earliestOffsets(tps: TopicPartition[]): Promise<Map<string, bigint>> {
    return this.serial(() => this.listOffsets(tps, true));
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.cluster.disconnect();
  }

  /** One ListOffsets per leader for all topics, with the cluster's isolation level (so LSO under read_committed). */
  private async listOffsets(tps: TopicPartition[], fromBeginning: boolean): Promise<Map<string, bigint>> {
    const byTopic = new Map<string, number[]>();
    for (const tp of tps) {
      const ps = byTopic.get(tp.topic) ?? [];
      if (!ps.includes(tp.partition)) ps.push(tp.partition);
      byTopic.set(tp.topic, ps);
    }
    const result = new Map<string, bigint>();
    if (byTopic.size === 0) return result;
    const topics = [...byTopic.keys()];
    const what = `ListOffsets(${fromBeginning ? 'earliest' : 'latest'}) ${topics.join(',')}`;
    await this.retry(
      what,
      async () => {
        await this.refresh(topics, false);
        const res = await this.cluster.fetchTopicsOffset(
          [...byTopic].map(([topic, ps]) => ({
            topic,
            fromBeginning,
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
    // An empty topic list asks for every topic (kafkajs encodes [] as null). `metadata()` returns
    // null instead of throwing when every broker failed: treat that as a connection problem.
    const all = (await this.cluster.metadata({ topics: [] })) as KafkajsBrokerMetadata | null;
    if (all === null) throw new KafkaJSConnectionError('no broker answered a topic listing');
    const existing = new Set(all.topicMetadata.map((t) => t.topic));
    return topics.filter((t) => !existing.has(t));
  }

  private retry<T>(operation: string, fn: () => Promise<T>, topics: string[]): Promise<T> {
    return withMetadataRetry({ operation, config: this.config, cluster: this.cluster, logger: this.logger }, fn).catch((e: unknown) => {
      throw isUnknownTopic(e) ? new TopicNotFoundError(topics) : toSluiceError(e, operation, this.config, topics);
    });
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
  const cluster = createDirectCluster(config, log);
  await connectBounded(cluster, config);
  return new KafkajsOffsetOracle(cluster, config, log);
}
