/**
 * How the Kafka access layer reads kafkajs's errors (stale metadata, lost connections, failed
 * authentication, ...) and the bounded retry loop around its requests, shared by the oracle, the
 * range reader, the read-ahead and the group offset publisher.
 */
import { KafkaAuthError, KafkaUnavailableError, TopicNotFoundError, isSluiceError } from '../../errors';
import type { Logger } from '../../logging';
import { abortableWait } from '../../wait';
import type { KafkaClientConfig } from '../types';
import type { DirectCluster } from './direct-cluster';
import { describeSasl } from './security';

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

export function authError(e: unknown, config: KafkaClientConfig): KafkaAuthError {
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
