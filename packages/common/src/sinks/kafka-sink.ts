import { Partitioners, type Admin, type Kafka, type Message, type Producer, type Transaction } from 'kafkajs';
import { z } from 'zod';
import {
  JobError,
  KafkaUnavailableError,
  ProducerFencedError,
  SinkUnavailableError,
  SluiceError,
  TopicNotFoundError,
  isSluiceError,
} from '../errors';
import { describeIssues } from '../job/define-job';
import type { ChunkCommitter, CommitOutcome, ProcessContext, Sink } from '../job/types';
import { createKafkajsClient } from '../kafka/kafkajs/direct-cluster';
import { errorMessage, isConnectionError, rootCause } from '../kafka/kafkajs/kafka-errors';
import type { KafkaClientConfig } from '../kafka/types';
import type { Logger } from '../logging';
import { followStoredOffset, storedOffsetGap } from './offset-authority';
import { kafkaOutputProblem } from './outputs';

/** One record to write: to `topic` (default: the sink's), partitioned by `key` unless `partition` is given. */
export interface KafkaSinkOutput {
  topic?: string;
  key?: string | Buffer | null;
  value: string | Buffer | null;
  partition?: number;
  headers?: Record<string, string | Buffer>;
}

export interface KafkaSinkOptions {
  /** The topic of outputs that name none. */
  topic?: string;
  /** Transactional ids are `<prefix>-<job>-<topic>-<partition>` (one per input partition); default `sluice`. */
  transactionalIdPrefix?: string;
  /**
   * The consumer group the job's offsets are committed to, in the same transactions as the
   * outputs: the authority for this job's offsets. Default `sluice-<job>`. Nobody may join it.
   */
  consumerGroup?: string;
  /**
   * The brokers abort a transaction left open this long (a paused executor's); must exceed
   * `driver.taskTimeoutMs × (driver.maxTaskFailures + 1)` (checked at start) and be at most the
   * brokers' `transaction.max.timeout.ms` (900000 by default). Default 600000.
   */
  transactionTimeoutMs?: number;
  /**
   * A partition's producer that committed nothing this long is closed (its connections with it);
   * the partition's next commit on this executor starts a new one. Default 300000; 0 keeps them.
   */
  producerIdleMs?: number;
}

const DEFAULT_PREFIX = 'sluice';
const DEFAULT_TRANSACTION_TIMEOUT_MS = 600_000;
const DEFAULT_PRODUCER_IDLE_MS = 300_000;
const PARTITION_COUNT_TTL_MS = 60_000;

const optionsSchema = z
  .object({
    topic: z.string().min(1).optional(),
    transactionalIdPrefix: z.string().min(1).max(100).optional(),
    consumerGroup: z.string().min(1).optional(),
    transactionTimeoutMs: z.number().int().positive().optional(),
    producerIdleMs: z.number().int().nonnegative().optional(),
  })
  .strict();

/** kafkajs error types that mean another producer took the transactional id (47 before Kafka 2.7, 90 after). */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTION_COORDINATOR_FENCED']);
const FENCED_CODES = new Set([47, 52, 90]);

/** The producer of one input partition, with the group offset as it last left it. */
interface PartitionProducer {
  producer: Producer;
  transactionalId: string;
  /**
   * The partition's offset in the group: read once the producer fenced every older one, then moved
   * by its own commits. No one else moves it while this producer is the newest; once it is not,
   * its transactions fail (fenced). null: the group holds no offset for the partition.
   */
  offset: bigint | null;
  /** When it last committed, or was opened (Date.now()). */
  usedAt: number;
}

/**
 * Exactly-once from Kafka to Kafka. Per input partition, one transactional producer with the
 * fixed id `<prefix>-<job>-<topic>-<partition>`, created on the partition's first commit on an
 * executor and kept. Creating it (InitProducerId) aborts any open transaction of an older producer
 * with that id and fences it. Each chunk is one transaction: its outputs and the partition's offset
 * `until` in the job's consumer group (TxnOffsetCommit), committed together; then the Redis
 * checkpoint follows by compare-and-set. The group offset is the authority: a chunk whose start it
 * is past writes nothing (Redis follows it), one it is behind is a coded gap.
 *
 * Downstream readers must read with `isolation.level=read_committed`. Speculation and skew
 * splitting are refused for this sink (see config/sink-settings.ts).
 */
export function kafkaSink(options: KafkaSinkOptions = {}): Sink<KafkaSinkOutput> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new JobError(`kafkaSink: invalid options: ${describeIssues(parsed.error)}`);
  const prefix = options.transactionalIdPrefix ?? DEFAULT_PREFIX;
  const transactionTimeout = options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
  const groupOf = (job: string): string => options.consumerGroup ?? `sluice-${job}`;
  const idleMs = options.producerIdleMs ?? DEFAULT_PRODUCER_IDLE_MS;
  let settings: { config: KafkaClientConfig; logger: Logger } | undefined;
  let kafka: Kafka | undefined;
  let admin: Promise<Admin> | undefined;
  const producers = new Map<string, PartitionProducer>();
  /** The transactions of one partition run one after the other (an abandoned attempt may still run here). */
  const queues = new Map<string, Promise<unknown>>();

  const client = (): Kafka => {
    if (settings === undefined) throw new JobError('kafkaSink: no Kafka settings: useKafka(config.kafka) must be called first');
    return (kafka ??= createKafkajsClient(settings.config, settings.logger.child({ component: 'kafka-sink' })));
  };

  const connectedAdmin = (): Promise<Admin> =>
    (admin ??= (async () => {
      const a = client().admin();
      await a.connect();
      return a;
    })().catch((e: unknown) => {
      admin = undefined;
      throw e;
    }));

  const exclusive = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(key) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => undefined);
    queues.set(key, settled);
    void settled.then(() => queues.get(key) === settled && queues.delete(key));
    return run;
  };

  const drop = async (key: string): Promise<void> => {
    const slot = producers.get(key);
    producers.delete(key);
    await slot?.producer.disconnect().catch(() => undefined);
  };

  /**
   * Closes the producers idle for `idleMs`: partitions this executor no longer runs (another
   * executor took them, or their topic went away) would otherwise hold connections for good.
   * Each is closed in its partition's turn, so never under a commit.
   */
  const closeIdle = (): void => {
    for (const [key, slot] of producers) {
      if (Date.now() - slot.usedAt < idleMs) continue;
      void exclusive(key, async () => {
        if (producers.get(key) !== slot || Date.now() - slot.usedAt < idleMs) return;
        settings?.logger.debug({ transactionalId: slot.transactionalId, idleMs }, 'kafkaSink: closing an idle producer');
        await drop(key);
      });
    }
  };
  let idleSweep: NodeJS.Timeout | undefined;

  /** Offsets of `topics` in the group, `topic:partition` -> offset (partitions without one left out). */
  const groupOffsets = async (group: string, topics: string[]): Promise<Map<string, bigint>> => {
    const answer = await (await connectedAdmin()).fetchOffsets({ groupId: group, topics });
    const offsets = new Map<string, bigint>();
    for (const { topic, partitions } of answer) {
      for (const p of partitions) if (BigInt(p.offset) >= 0n) offsets.set(`${topic}:${p.partition}`, BigInt(p.offset));
    }
    return offsets;
  };

  const partitionCounts = new Map<string, { count: number; at: number }>();
  const partitioner = Partitioners.DefaultPartitioner();

  /** Partitions of an output topic, asked of the brokers at most once a minute. */
  const partitionCount = async (topic: string): Promise<number> => {
    const known = partitionCounts.get(topic);
    if (known !== undefined && Date.now() - known.at < PARTITION_COUNT_TTL_MS) return known.count;
    const [metadata] = (await (await connectedAdmin()).fetchTopicMetadata({ topics: [topic] })).topics;
    const count = metadata?.partitions.length ?? 0;
    if (count === 0) throw new TopicNotFoundError([topic]);
    partitionCounts.set(topic, { count, at: Date.now() });
    return count;
  };

  /**
   * The outputs grouped by topic and partition, each partition chosen here once (murmur2 of the key
   * as the Java client, else spread) and sent as one call. kafkajs retries a send by partitioning
   * every message again and skipping the brokers that answered the first time: messages whose
   * partition (random without a key) or leader changed in between would be written twice or not at
   * all, inside a transaction that then commits. A call for one partition is retried whole, with
   * the same sequence numbers, which the brokers deduplicate.
   */
  const partitionedMessages = async (outputs: KafkaSinkOutput[]): Promise<Array<{ topic: string; messages: Message[] }>> => {
    const groups = new Map<string, { topic: string; messages: Message[] }>();
    for (const o of outputs) {
      // validate() made sure an output without a topic has the sink's.
      const topic = o.topic ?? options.topic ?? '';
      const message: Message = { key: o.key ?? null, value: o.value, headers: o.headers };
      let partition = o.partition;
      if (partition === undefined) {
        const count = await partitionCount(topic);
        const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0 }));
        partition = partitioner({ topic, partitionMetadata: partitionMetadata as never, message });
      }
      const key = `${topic}:${partition}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { topic, messages: [] }));
      group.messages.push({ ...message, partition });
    }
    return [...groups.values()];
  };

  /** A new producer for the partition: fences every older one (their open transactions abort), then reads the group offset. */
  const open = async (key: string, transactionalId: string, context: ProcessContext | undefined): Promise<PartitionProducer> => {
    const producer = client().producer({
      transactionalId,
      transactionTimeout,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every message carries its partition (see partitionedMessages).
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    try {
      await producer.connect();
      // kafkajs sends InitProducerId (which fences) on a transactional producer's first transaction, not on connect.
      await (await producer.transaction()).abort();
      const offsets = context && (await groupOffsets(groupOf(context.job), [context.topic]));
      const offset = context && offsets?.get(`${context.topic}:${context.partition}`);
      const slot = { producer, transactionalId, offset: offset ?? null, usedAt: Date.now() };
      producers.set(key, slot);
      if (idleMs > 0) idleSweep ??= setInterval(closeIdle, Math.min(60_000, Math.max(100, idleMs / 2))).unref();
      return slot;
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
  };

  /** One transaction: the outputs and (for a task's chunk) the partition's offset `until` in the group. */
  const transact = async (
    slot: PartitionProducer,
    key: string,
    outputs: KafkaSinkOutput[],
    context: ProcessContext,
    offsets: boolean
  ): Promise<void> => {
    let tx: Transaction | undefined;
    try {
      const transaction = await slot.producer.transaction();
      tx = transaction;
      // One send per output partition, all at once: see partitionedMessages for why.
      await Promise.all((await partitionedMessages(outputs)).map(({ topic, messages }) => transaction.send({ topic, acks: -1, messages })));
      if (offsets) {
        await transaction.sendOffsets({
          consumerGroupId: groupOf(context.job),
          topics: [{ topic: context.topic, partitions: [{ partition: context.partition, offset: String(context.untilOffset) }] }],
        });
      }
      await transaction.commit();
    } catch (e) {
      // A failed transaction leaves a kafkajs producer in a state it never leaves (tulios/kafkajs#1275):
      // abort what can be aborted, and the next commit starts a new producer.
      if (tx?.isActive()) await tx.abort().catch(() => undefined);
      await drop(key);
      throw asSinkError(e, context, slot.transactionalId);
    }
  };

  const commitChunk = async (outputs: KafkaSinkOutput[], committer: ChunkCommitter): Promise<CommitOutcome> => {
    const { context } = committer;
    const key = `${context.topic}:${context.partition}`;
    const transactionalId = `${prefix}-${context.job}-${context.topic}-${context.partition}`;
    let slot = producers.get(key);
    // Behind the chunk's start: another producer committed since this one last did, so this one is
    // fenced already; a new one takes over and reads where the group stands.
    if (slot !== undefined && slot.offset !== null && slot.offset < context.fromOffset) {
      await drop(key);
      slot = undefined;
    }
    slot ??= await open(key, transactionalId, context).catch((e: unknown) => {
      throw asSinkError(e, context, transactionalId);
    });
    slot.usedAt = Date.now();
    const stored = slot.offset;
    if (stored !== null && stored > context.fromOffset) return followStoredOffset(committer, stored);
    if (stored !== null && stored < context.fromOffset)
      throw storedOffsetGap('kafkaSink', `consumer group ${groupOf(context.job)}`, committer, stored);
    await transact(slot, key, outputs, context, true);
    slot.offset = context.untilOffset;
    return committer.commit([]);
  };

  /**
   * A dead letter replayed (`sluice dlq replay`): its outputs in a transaction of a producer of
   * its own, then marked replayed in Redis. A crash between the two replays it again: at least once.
   */
  const replay = async (outputs: KafkaSinkOutput[], committer: ChunkCommitter): Promise<CommitOutcome> => {
    const { context } = committer;
    const transactionalId = `${prefix}-${context.job}-dlq-replay`;
    const slot = producers.get('replay') ?? (await open('replay', transactionalId, undefined));
    slot.usedAt = Date.now();
    await transact(slot, 'replay', outputs, context, false);
    return committer.commit([]);
  };

  return {
    kind: 'kafka',
    guarantee: 'exactly-once',
    requires: { orderedCommits: true, singleAttempt: true, transactionTimeoutMs: transactionTimeout, consumerGroup: groupOf },
    useKafka(config, logger) {
      settings = { config, logger };
    },
    validate: (output) => kafkaOutputProblem(output, options.topic),
    commit(outputs, committer) {
      const { context } = committer;
      if (committer.epoch === undefined) return exclusive('replay', () => replay(outputs, committer));
      return exclusive(`${context.topic}:${context.partition}`, () => commitChunk(outputs, committer));
    },
    async committedOffsets(partitions, { job }) {
      if (partitions.length === 0) return [];
      let offsets: Map<string, bigint>;
      try {
        offsets = await groupOffsets(groupOf(job), [...new Set(partitions.map((p) => p.topic))]);
      } catch (e) {
        const brokers = settings?.config.brokers.join(',') ?? '';
        if (isSluiceError(e)) throw e;
        throw new SinkUnavailableError(
          `kafkaSink: cannot read the offsets of consumer group ${groupOf(job)} (brokers ${brokers}): ${errorMessage(rootCause(e))}`,
          { group: groupOf(job) },
          e
        );
      }
      return partitions.flatMap((p) => {
        const offset = offsets.get(`${p.topic}:${p.partition}`);
        return offset === undefined ? [] : [{ ...p, offset }];
      });
    },
    async close() {
      clearInterval(idleSweep);
      idleSweep = undefined;
      const open = [...producers.keys()];
      await Promise.all(open.map(drop));
      const a = admin;
      admin = undefined;
      await a?.then((connected) => connected.disconnect()).catch(() => undefined);
    },
  };
}

function asSinkError(e: unknown, context: ProcessContext, transactionalId: string): SluiceError {
  if (isSluiceError(e)) return e;
  const cause = rootCause(e);
  const where = `kafkaSink: ${context.topic}-${context.partition} [${context.fromOffset}, ${context.untilOffset})`;
  const details = { topic: context.topic, partition: context.partition, transactionalId };
  if ((cause.type !== undefined && FENCED_TYPES.has(cause.type)) || FENCED_CODES.has((cause as { code?: number }).code ?? -1)) {
    return new ProducerFencedError(
      `${where}: producer ${transactionalId} was fenced by a newer one with its transactional id (another attempt took the ` +
        `partition, or the brokers timed its transaction out): its transaction is aborted, nothing of it is visible`,
      details,
      e
    );
  }
  if (cause.type === 'INVALID_TRANSACTION_TIMEOUT') {
    return new SluiceError(
      'SLUICE_CONFIG_INVALID',
      `${where}: the brokers refuse the sink's transactionTimeoutMs (above their transaction.max.timeout.ms): ${errorMessage(cause)}`,
      { details }
    );
  }
  if (isConnectionError(e)) return new KafkaUnavailableError(`${where}: Kafka unreachable: ${errorMessage(cause)}`, e);
  return new SluiceError('SLUICE_TASK_FAILED', `${where}: transaction failed: ${errorMessage(cause)}`, {
    retriable: true,
    details,
    cause: e,
  });
}
