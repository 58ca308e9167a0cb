/**
 * kafkajs's internal `Cluster` obtained without ever joining a consumer group, plus the error
 * classification and bounded retry loop shared by the oracle, the range reader and the publisher.
 *
 * sluice depends on kafkajs internals (pinned at exactly 2.2.4): `Cluster` (metadata, brokers),
 * `Broker` (`listOffsets`, `offsetCommit`, its request lookup and private send) and the protocol's
 * encoders and codecs. {@link assertKafkajsInternals} checks at start-up that they still look the way
 * this code expects, so an accidental upgrade fails loudly instead of misbehaving at the first batch.
 */
import { Kafka, PartitionAssigners, type PartitionAssigner } from 'kafkajs';

import { KafkaAuthError, KafkaUnavailableError, TopicNotFoundError, isSluiceError } from '../../errors';
import type { Logger } from '../../logging';
import { abortableWait } from '../../wait';
import type { KafkaClientConfig, TopicPartition } from '../types';
import { registerCodecs } from './codecs';
import { kafkajsLogCreator, kafkajsLogLevel } from './log-creator';
import { describeSasl, kafkajsSecurity } from './security';

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
const brokerMethods = ['offsetCommit', 'metadata', 'listOffsets'] as const;

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
  const kafka = new Kafka({
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

// ---------------------------------------------------------------------------------------------
// Error classification

interface KafkajsErrorLike {
  name?: string;
  type?: string;
  message?: string;
  retriable?: boolean;
  cause?: unknown;
}

/**
 * Errors that mean "metadata is stale": `STALE_METADATA_ERRORS` of kafkajs `consumerGroup.js`, plus
 * the transient partition states a leader change or a restarting broker can report.
 */
const staleMetadataTypes = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'REPLICA_NOT_AVAILABLE',
  'KAFKA_STORAGE_ERROR',
  'OFFSET_NOT_AVAILABLE',
]);

const coordinatorTypes = new Set(['NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'GROUP_LOAD_IN_PROGRESS']);

const connectionNames = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
  'KafkaJSGroupCoordinatorNotFound',
]);

/** Unwraps kafkajs's retry wrappers (`KafkaJSNumberOfRetriesExceeded`, `KafkaJSNonRetriableError`). */
export function rootCause(e: unknown): KafkajsErrorLike {
  let cur = e as KafkajsErrorLike;
  for (let i = 0; i < 5 && cur !== null && typeof cur === 'object'; i++) {
    const wrapper = cur.name === 'KafkaJSNumberOfRetriesExceeded' || cur.name === 'KafkaJSNonRetriableError';
    if (!wrapper || cur.cause === undefined || cur.cause === null) break;
    cur = cur.cause;
  }
  return cur ?? {};
}

export function errorMessage(e: unknown): string {
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
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

/** Leader moved, partition metadata unknown or stale: refresh metadata and try again. */
export function isStaleMetadataError(e: unknown): boolean {
  const c = rootCause(e);
  if (c.type !== undefined && staleMetadataTypes.has(c.type)) return true;
  // kafkajs throws this while a partition has no leader (election in progress).
  return c.name === 'KafkaJSError' && c.message === 'Invalid partition metadata';
}

/** The socket dropped, timed out or the broker is not in the (stale) metadata. */
export function isConnectionError(e: unknown): boolean {
  const c = rootCause(e);
  if (c.name !== undefined && connectionNames.has(c.name)) return true;
  const code = (c as { code?: unknown }).code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE';
}

/** The broker refused the SASL handshake or credentials. */
export function isAuthenticationError(e: unknown): boolean {
  const c = rootCause(e);
  return c.name === 'KafkaJSSASLAuthenticationError' || c.type === 'SASL_AUTHENTICATION_FAILED' || c.type === 'UNSUPPORTED_SASL_MECHANISM';
}

function authError(e: unknown, config: KafkaClientConfig): KafkaAuthError {
  const how = describeSasl(config) ?? 'no SASL (kafka.saslMechanism is none)';
  return new KafkaAuthError(
    `SASL authentication failed at Kafka brokers ${config.brokers.join(',')} (${how}): ${errorMessage(rootCause(e))}`,
    e
  );
}

export function isCoordinatorError(e: unknown): boolean {
  const c = rootCause(e);
  return c.type !== undefined && coordinatorTypes.has(c.type);
}

export function isOffsetOutOfRange(e: unknown): boolean {
  const c = rootCause(e);
  return c.name === 'KafkaJSOffsetOutOfRange' || c.type === 'OFFSET_OUT_OF_RANGE';
}

export function isUnknownTopic(e: unknown): boolean {
  return rootCause(e).type === 'UNKNOWN_TOPIC_OR_PARTITION';
}

// ---------------------------------------------------------------------------------------------
// Retry

/**
 * What an aborted wait rejects with: the signal's reason, as `signal.throwIfAborted()` throws it
 * (an `AbortError` DOMException unless the caller passed its own Error). A non-Error reason is
 * wrapped so that a rejection is always an Error; it stays reachable as `cause`.
 */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}

/** Exponential backoff with jitter: 100 ms, 200 ms, 400 ms ... capped at 2 s. */
export function backoffMs(attempt: number): number {
  const base = Math.min(100 * 2 ** attempt, 2000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export interface RetryOptions {
  /** What is being done, for logs and error messages (e.g. `ListOffsets lines`). */
  operation: string;
  config: KafkaClientConfig;
  cluster: DirectCluster;
  logger: Logger;
  signal?: AbortSignal;
  /** Extra errors to retry after a metadata refresh (e.g. NOT_COORDINATOR for commits). */
  retryAlso?: (e: unknown) => boolean;
  /** Called before each retry, after the metadata refresh (e.g. to forget a cached coordinator). */
  onRetry?: (e: unknown) => void;
  /** Topics involved: UNKNOWN_TOPIC_OR_PARTITION after the last retry becomes `TopicNotFoundError` for them. */
  topics?: string[];
}

/**
 * Runs `fn`, retrying up to `config.retries` times on stale metadata and connection errors, with
 * a metadata refresh and backoff before each retry. Other errors pass through untouched; when the
 * retries run out the last error is mapped by {@link toSluiceError}.
 */
export async function withMetadataRetry<T>(opts: RetryOptions, fn: () => Promise<T>): Promise<T> {
  const { config, cluster, logger, signal } = opts;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (e) {
      if (isSluiceError(e)) throw e;
      const retriable = isStaleMetadataError(e) || isConnectionError(e) || opts.retryAlso?.(e) === true;
      if (!retriable || attempt >= config.retries) throw toSluiceError(e, opts.operation, config, opts.topics);
      logger.debug(
        { err: errorMessage(e), attempt: attempt + 1, operation: opts.operation },
        'kafka request failed, refreshing metadata and retrying'
      );
      if (!(await abortableWait(backoffMs(attempt), signal))) throw abortReason(signal);
      // A refresh can fail too (broker still down); the next attempt will tell.
      await cluster.refreshMetadata().catch(() => undefined);
      opts.onRetry?.(e);
    }
  }
}

/** Maps a kafkajs error that survived the retries onto sluice's error hierarchy. */
export function toSluiceError(e: unknown, operation: string, config: KafkaClientConfig, topics?: string[]): Error {
  if (isSluiceError(e)) return e;
  // Programming errors (TypeError & co.) are not Kafka's fault: let them surface unchanged.
  if (!String(rootCause(e).name ?? '').startsWith('KafkaJS')) return e instanceof Error ? e : new TypeError(String(e));
  if (isUnknownTopic(e) && topics !== undefined && topics.length > 0) return new TopicNotFoundError(topics);
  if (isAuthenticationError(e)) return authError(e, config);
  const why = isConnectionError(e) ? 'brokers unreachable or connection lost' : 'request failed';
  return new KafkaUnavailableError(`${operation}: ${why} (brokers ${config.brokers.join(',')}): ${errorMessage(rootCause(e))}`, e);
}

/**
 * Points the cluster's metadata at exactly `topics`. kafkajs keeps target topics forever, so one
 * deleted topic would make every later metadata refresh fail with UNKNOWN_TOPIC_OR_PARTITION.
 */
export function setTargetTopics(cluster: DirectCluster, topics: Iterable<string>): void {
  cluster.targetTopics = new Set(topics);
}
