import type { Consumer, KafkaMessage } from 'kafkajs';
import type { Logger } from '../../logging';
import type { KafkaClientConfig, RecordHeader, SourceRecord } from '../types';
import { registerCodecs } from './codecs';
import { createKafkajsClient } from './direct-cluster';

/**
 * Receiver mode's source: Kafka's high-level consumer (a kafkajs consumer group member that
 * subscribes, auto-commit off). The direct approach never uses it. Records go to `onRecords`
 * batch by batch; offsets are committed only through {@link GroupConsumer.commit}, once the
 * receiver's blocks are safe (docs/receiver-mode.md).
 */
export interface GroupConsumerOptions {
  groupId: string;
  /** Topics, or a pattern matched against whole topic names. */
  topics: string[] | RegExp;
  /** Where a partition without a committed offset starts. */
  fromBeginning: boolean;
  /** Takes a fetched batch of one partition; awaited before the next one (the rate limit waits here). */
  onRecords(records: SourceRecord[], heartbeat: () => Promise<void>): Promise<void>;
  /** The consumer crashed (kafkajs gives up restarting it): the receiver is dead. */
  onCrash(error: Error): void;
  logger: Logger;
}

export interface GroupConsumer {
  start(): Promise<void>;
  /** Stops fetching every subscribed partition (a full block queue: backpressure) or resumes. */
  pause(): void;
  resume(): void;
  /** Commits next offsets (`topic:partition` -> offset of the next record) to the group. */
  commit(offsets: Map<string, bigint>): Promise<void>;
  close(): Promise<void>;
}

export function createKafkajsGroupConsumer(config: KafkaClientConfig, options: GroupConsumerOptions): GroupConsumer {
  registerCodecs();
  const logger = options.logger;
  const kafka = createKafkajsClient(config, logger);
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: config.isolation === 'read_uncommitted',
    maxBytes: config.fetchMaxBytes,
    maxBytesPerPartition: config.partitionMaxBytes,
    maxWaitTimeInMs: config.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    // A receiver that died leaves the group after this long (the broker's least by default): its successor waits for that rebalance.
    sessionTimeout: 6000,
    heartbeatInterval: 1000,
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(!closed) },
  });
  // kafkajs restarts a crashed consumer on its own, also one crashing while it disconnects: a
  // closed receiver's consumer must not come back and hold partitions in the group.
  let closed = false;
  const assigned = new Set<string>();
  consumer.on(consumer.events.CRASH, (event) => {
    const payload = event.payload as { error: Error; restart: boolean };
    if (!payload.restart) options.onCrash(payload.error);
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned.clear();
    const assignment = (event.payload as { memberAssignment: Record<string, number[]> }).memberAssignment;
    for (const topic of Object.keys(assignment)) assigned.add(topic);
    logger.info({ group: options.groupId, assignment }, 'receiver joined its consumer group');
  });
  const pausedTopics = (): Array<{ topic: string }> => [...assigned].map((topic) => ({ topic }));
  return {
    async start() {
      await consumer.connect();
      if (closed) return;
      await consumer.subscribe({
        topics: Array.isArray(options.topics) ? options.topics : [options.topics],
        fromBeginning: options.fromBeginning,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const records = batch.messages.map((m) => toSourceRecord(batch.topic, batch.partition, m));
          if (records.length > 0) await options.onRecords(records, () => payload.heartbeat());
        },
      });
    },
    pause: () => consumer.pause(pausedTopics()),
    resume: () => consumer.resume(pausedTopics()),
    async commit(offsets) {
      const topicPartitions = [...offsets].map(([key, offset]) => {
        const at = key.lastIndexOf(':');
        return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)), offset: offset.toString() };
      });
      if (topicPartitions.length > 0) await consumer.commitOffsets(topicPartitions);
    },
    close: () => {
      closed = true;
      return consumer.disconnect();
    },
  };
}

const noHeaders: readonly RecordHeader[] = Object.freeze([]);

function toSourceRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  const entries = Object.entries(m.headers ?? {});
  const headers: RecordHeader[] = [];
  for (const [key, value] of entries) {
    for (const v of Array.isArray(value) ? value : [value]) {
      headers.push({ key, value: v === undefined || v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(String(v)) });
    }
  }
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    timestamp: BigInt(m.timestamp),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: headers.length === 0 ? noHeaders : headers,
  };
}
