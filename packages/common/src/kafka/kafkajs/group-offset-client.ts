import type { Logger } from '../../logging';
import { partitionKey, type GroupOffsetClient, type KafkaClientConfig, type TopicPartition } from '../types';
import { connectBounded, createDirectCluster, setTargetTopics, type DirectBroker, type DirectCluster } from './direct-cluster';
import { isConnectionError, isCoordinatorError, withMetadataRetry } from './kafka-errors';

/**
 * Mirrors checkpointed offsets into a Kafka consumer group for lag tools (kafka-consumer-groups.sh,
 * Burrow), with a standalone OffsetCommit: generation -1 and member id '' are accepted by the
 * group coordinator only while the group has no members, so the group must be one nobody joins.
 * Best-effort by contract: callers log a failure and carry on, the Redis checkpoint is the truth.
 * Reads a group's offsets with OffsetFetch (receiver mode's progress: the receivers' group).
 */
export class KafkajsGroupOffsetClient implements GroupOffsetClient {
  /** FindCoordinator is a round trip; the coordinator of a group rarely moves. */
  private readonly coordinators = new Map<string, DirectBroker>();

  constructor(
    private readonly cluster: DirectCluster,
    private readonly config: KafkaClientConfig,
    private readonly logger: Logger
  ) {}

  async commit(groupId: string, offsets: Map<string, bigint>): Promise<void> {
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const [key, offset] of offsets) {
      // partitionKey is `topic:partition`; topic names cannot contain ':' but split on the last one anyway.
      const at = key.lastIndexOf(':');
      const topic = key.slice(0, at);
      const partition = Number(key.slice(at + 1));
      const list = byTopic.get(topic) ?? [];
      list.push({ partition, offset: offset.toString() });
      byTopic.set(topic, list);
    }
    if (byTopic.size === 0) return;
    const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
    // Locating the coordinator needs broker metadata; keep it to these topics, not the whole cluster.
    setTargetTopics(this.cluster, byTopic.keys());
    await this.withCoordinator(`OffsetCommit group ${groupId}`, groupId, (coordinator) =>
      coordinator.offsetCommit({ groupId, groupGenerationId: -1, memberId: '', topics })
    );
  }

  /** `request` to the group's coordinator, found again when it moved or its connection broke. */
  private withCoordinator<T>(operation: string, groupId: string, request: (coordinator: DirectBroker) => Promise<T>): Promise<T> {
    return withMetadataRetry(
      {
        operation,
        config: this.config,
        cluster: this.cluster,
        logger: this.logger,
        retryAlso: isCoordinatorError,
        onRetry: (e) => {
          if (isCoordinatorError(e) || isConnectionError(e)) this.coordinators.delete(groupId);
        },
      },
      async () => request(await this.coordinator(groupId))
    );
  }

  async fetch(groupId: string, tps: TopicPartition[]): Promise<Map<string, bigint>> {
    const byTopic = new Map<string, Array<{ partition: number }>>();
    for (const { topic, partition } of tps) byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partition }]);
    const offsets = new Map<string, bigint>();
    if (byTopic.size === 0) return offsets;
    setTargetTopics(this.cluster, byTopic.keys());
    const answer = await this.withCoordinator(`OffsetFetch group ${groupId}`, groupId, (coordinator) =>
      coordinator.offsetFetch({ groupId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) })
    );
    for (const { topic, partitions } of answer.responses) {
      // -1: no committed offset for the partition.
      for (const p of partitions)
        if (BigInt(p.offset) >= 0n) offsets.set(partitionKey({ topic, partition: p.partition }), BigInt(p.offset));
    }
    return offsets;
  }

  async close(): Promise<void> {
    this.coordinators.clear();
    await this.cluster.disconnect();
  }

  private async coordinator(groupId: string): Promise<DirectBroker> {
    const cached = this.coordinators.get(groupId);
    if (cached !== undefined) return cached;
    const found = await this.cluster.findGroupCoordinator({ groupId });
    this.coordinators.set(groupId, found);
    return found;
  }
}

/**
 * Connects a {@link GroupOffsetClient}.
 * @throws KafkaUnavailableError when no broker answers within about `2 × connectionTimeoutMs`.
 */
export async function createKafkajsGroupOffsetClient(config: KafkaClientConfig, logger: Logger): Promise<GroupOffsetClient> {
  const log = logger.child({ component: 'kafka-group-offsets' });
  const cluster = createDirectCluster(config, log);
  await connectBounded(cluster, config);
  return new KafkajsGroupOffsetClient(cluster, config, log);
}
