/**
 * kafkajs's internal `Cluster` obtained without ever joining a consumer group, and the leaders of
 * partitions in its metadata; how its errors are read and retried is in kafka-errors.ts.
 *
 * sluice depends on kafkajs internals (pinned at exactly 2.2.4): `Cluster` (metadata, brokers),
 * `Broker` (`listOffsets`, `offsetCommit`, `offsetFetch`, its request lookup and private send) and the protocol's
 * encoders and codecs. {@link assertKafkajsInternals} checks at start-up that they still look the way
 * this code expects, so an accidental upgrade fails loudly instead of misbehaving at the first batch.
 */
import { Kafka, PartitionAssigners, type PartitionAssigner } from 'kafkajs';

import { KafkaUnavailableError, isSluiceError } from '../../errors';
import type { Logger } from '../../logging';
import type { KafkaClientConfig, TopicPartition } from '../types';
import { registerCodecs } from './codecs';
import { kafkajsLogCreator, kafkajsLogLevel } from './log-creator';
import { authError, errorMessage, isAuthenticationError, rootCause } from './kafka-errors';
import { kafkajsSecurity } from './security';

/** The kafkajs version whose internals this layer was written against. */
export const KAFKAJS_VERSION = '2.2.4';

/** ISOLATION_LEVEL of kafkajs (`src/protocol/isolationLevel.js`). */
export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export interface KafkajsPartitionMetadata {
  partitionId: number;
  leader: number;
  partitionErrorCode: number;
}

export interface KafkajsBrokerMetadata {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  topicMetadata: Array<{ topic: string; topicErrorCode: number; isInternal?: boolean; partitionMetadata: KafkajsPartitionMetadata[] }>;
}

/** The subset of kafkajs's internal `Broker` that sluice calls. */
export interface DirectBroker {
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<unknown>;
  /** A partition without a committed offset answers -1. */
  offsetFetch(request: {
    groupId: string;
    topics: Array<{ topic: string; partitions: Array<{ partition: number }> }>;
  }): Promise<{ responses: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }>;
  metadata(topics?: string[]): Promise<KafkajsBrokerMetadata>;
  /** `timestamp`: -2 earliest, -1 latest, or ms (kafkajs's Long-compatible number or decimal string). */
  listOffsets(request: {
    isolationLevel: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; timestamp: number | string }> }>;
  }): Promise<{ responses: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }>;
}

/** The subset of kafkajs's internal `Cluster` that sluice calls (more than `types/index.d.ts` declares). */
export interface DirectCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  getNodeIds(): string[];
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  metadata(options?: { topics?: string[] }): Promise<KafkajsBrokerMetadata>;
  findTopicPartitionMetadata(topic: string): KafkajsPartitionMetadata[];
  findBroker(node: { nodeId: string }): Promise<DirectBroker>;
  findGroupCoordinator(group: { groupId: string }): Promise<DirectBroker>;
  /** Topics whose metadata the cluster keeps; sticky in kafkajs, so sluice sets it per call. */
  targetTopics: Set<string>;
  isolationLevel: number;
}

const clusterMethods = [
  'connect',
  'disconnect',
  'isConnected',
  'getNodeIds',
  'refreshMetadata',
  'refreshMetadataIfNecessary',
  'metadata',
  'findTopicPartitionMetadata',
  'findBroker',
  'findGroupCoordinator',
] as const;
const brokerMethods = ['offsetCommit', 'offsetFetch', 'metadata', 'listOffsets'] as const;

let internalsChecked = false;

function internalsMismatch(what: string): KafkaUnavailableError {
  return new KafkaUnavailableError(
    `kafkajs internals changed (${what}); sluice needs kafkajs exactly ${KAFKAJS_VERSION} (pin it in package.json)`
  );
}

/**
 * Fails fast when the kafkajs internals this layer relies on are missing or changed shape.
 * Checks the installed version, the `Broker` prototype and (when given) a cluster.
 */
export function assertKafkajsInternals(cluster?: unknown): void {
  if (!internalsChecked) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require('kafkajs/package.json') as { version?: string };
    if (pkg.version !== KAFKAJS_VERSION) throw internalsMismatch(`installed version is ${pkg.version ?? 'unknown'}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const BrokerClass = require('kafkajs/src/broker') as { prototype?: Record<string, unknown> };
    for (const m of brokerMethods) {
      if (typeof BrokerClass.prototype?.[m] !== 'function') throw internalsMismatch(`Broker.${m} is missing`);
    }
    // fetch-response.ts sends its Fetch through this private method.
    const symbols = Object.getOwnPropertySymbols(BrokerClass.prototype ?? {});
    if (!symbols.some((s) => s.description === 'private:Broker:sendRequest')) throw internalsMismatch('Broker has no private sendRequest');
    internalsChecked = true;
  }
  if (cluster !== undefined) {
    const c = cluster as Record<string, unknown>;
    for (const m of clusterMethods) {
      if (typeof c[m] !== 'function') throw internalsMismatch(`Cluster.${m} is missing`);
    }
    if (!(c['targetTopics'] instanceof Set)) throw internalsMismatch('Cluster.targetTopics is not a Set');
  }
}

/** A kafkajs client with the process's brokers, security, timeouts and logger (kafkajs's public API). */
export function createKafkajsClient(config: KafkaClientConfig, logger: Logger): Kafka {
  return new Kafka({
    brokers: config.brokers,
    clientId: config.clientId,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    ...kafkajsSecurity(config),
    // kafkajs's own retries sit below ours (connect, broker reconnect, metadata on LEADER_NOT_AVAILABLE);
    // keep them short so that `config.retries` at our level bounds the total time.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: kafkajsLogLevel(logger),
    logCreator: kafkajsLogCreator(logger),
  });
}

/**
 * Creates (does not connect) a kafkajs Cluster with the isolation level of `config`.
 *
 * The cluster is taken from a consumer through a partition-assigner factory, which kafkajs calls
 * synchronously with the consumer's cluster. The consumer itself is never connected or run, so no
 * group traffic (JoinGroup, heartbeats, OffsetCommit) ever happens; its group id is never sent.
 */
export function createDirectCluster(config: KafkaClientConfig, logger: Logger): DirectCluster {
  assertKafkajsInternals();
  registerCodecs();
  const kafka = createKafkajsClient(config, logger);
  let captured: unknown;
  const capture: PartitionAssigner = (cfg) => {
    captured = (cfg as { cluster: unknown }).cluster;
    return PartitionAssigners.roundRobin(cfg);
  };
  kafka.consumer({
    groupId: 'sluice-direct-never-joined',
    partitionAssigners: [capture],
    readUncommitted: config.isolation === 'read_uncommitted',
    // A metadata request for a missing topic must report it, never create it.
    allowAutoTopicCreation: false,
  });
  if (captured === undefined) throw internalsMismatch('partition assigner factory did not receive the cluster');
  assertKafkajsInternals(captured);
  return captured as DirectCluster;
}

/** Connects `cluster`, bounded in time; unreachable brokers become {@link KafkaUnavailableError}. */
export async function connectBounded(cluster: DirectCluster, config: KafkaClientConfig): Promise<void> {
  // kafkajs connects per attempt with connectionTimeout and retries a little on its own; the
  // deadline covers a DNS stall or a broker that accepts TCP but never answers ApiVersions.
  const deadlineMs = Math.max(config.connectionTimeoutMs, 1000) * 2;
  let timer: NodeJS.Timeout | undefined;
  const brokers = config.brokers.join(',');
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KafkaUnavailableError(`cannot connect to Kafka brokers ${brokers}: no answer within ${deadlineMs} ms`)),
      deadlineMs
    );
  });
  try {
    await Promise.race([cluster.connect(), deadline]);
  } catch (e) {
    await cluster.disconnect().catch(() => undefined);
    if (isSluiceError(e)) throw e;
    if (isAuthenticationError(e)) throw authError(e, config);
    throw new KafkaUnavailableError(`cannot connect to Kafka brokers ${brokers}: ${errorMessage(rootCause(e))}`, e);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The leader's node id of each partition of `topic` in the cached metadata, partitions without a
 * leader (an election in progress) left out. One pass: kafkajs's `findLeaderForPartitions` looks
 * each partition up in the list and copies its result per partition, quadratic in the partitions
 * asked (figures: docs/benchmarks.md, "Figures behind design choices").
 */
export function partitionLeaders(cluster: DirectCluster, topic: string): Map<number, string> {
  const leaders = new Map<number, string>();
  for (const p of cluster.findTopicPartitionMetadata(topic)) {
    // Kafka reports -1 while there is none; kafkajs has been seen to leave it unset.
    if (typeof p.leader === 'number' && p.leader >= 0) leaders.set(p.partitionId, String(p.leader));
  }
  return leaders;
}

/**
 * `items` grouped by the leader (node id) of their partition in the cached metadata, looked up once
 * per topic; those whose partition has no leader there are `leaderless`.
 */
export function groupByLeader<T>(
  cluster: DirectCluster,
  items: Iterable<T>,
  partitionOf: (item: T) => TopicPartition
): { byLeader: Map<string, T[]>; leaderless: T[] } {
  const leadersOf = new Map<string, Map<number, string>>();
  const byLeader = new Map<string, T[]>();
  const leaderless: T[] = [];
  for (const item of items) {
    const { topic, partition } = partitionOf(item);
    let leaders = leadersOf.get(topic);
    if (leaders === undefined) leadersOf.set(topic, (leaders = partitionLeaders(cluster, topic)));
    const nodeId = leaders.get(partition);
    if (nodeId === undefined) leaderless.push(item);
    else if (byLeader.has(nodeId)) byLeader.get(nodeId)?.push(item);
    else byLeader.set(nodeId, [item]);
  }
  return { byLeader, leaderless };
}

/**
 * Points the cluster's metadata at exactly `topics`. kafkajs keeps target topics forever, so one
 * deleted topic would make every later metadata refresh fail with UNKNOWN_TOPIC_OR_PARTITION.
 */
export function setTargetTopics(cluster: DirectCluster, topics: Iterable<string>): void {
  cluster.targetTopics = new Set(topics);
}
