import { Queue, type JobType } from 'bullmq';
import type Redis from 'ioredis';
import { RedisUnavailableError } from '../errors';
import type { SourceRecord, TopicPartition } from '../kafka/types';
import type { CheckpointStore } from '../checkpoint/store';
import { createRedis, redisTargetUrl, type RedisTarget } from '../checkpoint/connection';

/**
 * The dead-letter queue (DLQ) of a job: a BullMQ queue named `sluice-dlq-<job>` whose keys carry
 * the job's hash tag (prefix `sluice:{<job>}:bull`), so they live in the job's Redis Cluster slot.
 *
 * One BullMQ job per poison record, with the deterministic job id `<topic>:<partition>:<offset>`:
 * BullMQ ignores an add whose id exists, so an executor that dead-letters records and dies before
 * committing the chunk re-adds the same ids on the retry, and nothing is doubled.
 *
 * States: `waiting` (dead-lettered, not replayed yet), `active`/`delayed` (being replayed, or
 * waiting for a replay retry's backoff), `completed` (replayed), `failed` (replay exhausted its
 * attempts; `sluice dlq replay` tries these again).
 */

export type PoisonReason = 'process' | 'decode' | 'output' | 'oversized';

/** What the queue holds per poison record. Bytes are base64, offsets and timestamps decimal strings. */
export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  value: string | null;
  headers: Array<{ key: string; value: string | null }>;
  /**
   * Why it is poison: `process` or `decode` threw, `process` returned an `output` the sink cannot
   * commit, or the record is above `deadLetter.maxRecordBytes`.
   */
  reason: PoisonReason;
  /** The error's message. */
  error: string;
  /** Task attempts made when the record was dead-lettered (attempt index + 1). */
  attempts: number;
  batchId: number;
  /** Milliseconds since the epoch. */
  deadLetteredAt: number;
}

/** One entry as `list` returns it. */
export interface DeadLetterEntry {
  id: string;
  state: string;
  /** Replay attempts made by `sluice dlq replay` (BullMQ's attemptsMade). */
  replayAttempts: number;
  /** The last replay error, if a replay failed. */
  replayError?: string;
  letter: DeadLetter;
}

/** States of entries not replayed yet: what `deadLetterQueueSize` counts. */
export const pendingStates: JobType[] = ['waiting', 'paused', 'prioritized', 'delayed', 'active', 'waiting-children', 'failed'];

export const deadLetterQueueName = (job: string): string => `sluice-dlq-${job}`;
export const deadLetterPrefix = (job: string): string => `sluice:{${job}}:bull`;
/** Hash of the entries whose replay committed: entry id -> time (ms). Written by the replay commit script. */
export const deadLetterReplayedKey = (job: string): string => `sluice:{${job}}:dlq:replayed`;
export const deadLetterId = (tp: TopicPartition, offset: bigint | string): string => `${tp.topic}:${tp.partition}:${offset}`;

/** key + value + header keys and values, in bytes: what `deadLetter.maxRecordBytes` limits. */
export function recordBytes(record: SourceRecord): number {
  let bytes = (record.key === null ? 0 : record.key.length) + (record.value === null ? 0 : record.value.length);
  for (const h of record.headers) bytes += Buffer.byteLength(h.key) + (h.value === null ? 0 : h.value.length);
  return bytes;
}

export function toDeadLetter(
  record: SourceRecord,
  reason: PoisonReason,
  error: string,
  attempts: number,
  batchId: number,
  now = Date.now()
): DeadLetter {
  const b64 = (b: Buffer | null): string | null => (b === null ? null : b.toString('base64'));
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: String(record.timestamp),
    key: b64(record.key),
    value: b64(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: b64(h.value) })),
    reason,
    error: error.length > 2000 ? `${error.slice(0, 2000)}…` : error,
    attempts,
    batchId,
    deadLetteredAt: now,
  };
}

/** The record as the job saw it, from its dead letter. */
export function fromDeadLetter(letter: DeadLetter): SourceRecord {
  const buf = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));
  return {
    topic: letter.topic,
    partition: letter.partition,
    offset: BigInt(letter.offset),
    timestamp: BigInt(letter.timestamp),
    key: buf(letter.key),
    value: buf(letter.value),
    headers: letter.headers.map((h) => ({ key: h.key, value: buf(h.value) })),
  };
}

export interface DeadLetterQueueOptions {
  connectTimeoutMs?: number;
  /** BullMQ attempts of each entry under replay (`deadLetter.replayAttempts`). */
  replayAttempts?: number;
  /** BullMQ exponential backoff of replay retries (`deadLetter.replayBackoffMs`). */
  replayBackoffMs?: number;
}

export class DeadLetterQueue {
  private constructor(
    readonly job: string,
    readonly queue: Queue,
    private readonly connection: Redis | null,
    private readonly options: DeadLetterQueueOptions
  ) {}

  /** Opens the queue on its own connection; fails fast when Redis cannot be reached. */
  static async open(target: RedisTarget, job: string, options: DeadLetterQueueOptions = {}): Promise<DeadLetterQueue> {
    const connection = createRedis(target, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(times * 100, 1000),
    });
    let lastError: Error | undefined;
    connection.on('error', (e: Error) => (lastError = e));
    try {
      await connection.connect();
    } catch (e) {
      connection.disconnect();
      throw new RedisUnavailableError(`cannot reach Redis at ${redisTargetUrl(target)}: ${(lastError ?? (e as Error)).message}`, e);
    }
    return DeadLetterQueue.on(connection, job, options, connection);
  }

  /** A queue on an existing connection (not closed by `close`). */
  static on(client: Redis, job: string, options: DeadLetterQueueOptions = {}, owned: Redis | null = null): DeadLetterQueue {
    const queue = new Queue(deadLetterQueueName(job), { connection: client, prefix: deadLetterPrefix(job) });
    queue.on('error', () => undefined); // surfaced by the failing call
    return new DeadLetterQueue(job, queue, owned, options);
  }

  /**
   * Adds the letters, each under its deterministic id. Idempotent: ids already present (an earlier
   * attempt's, even if replayed since) are left as they are.
   */
  async add(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const attempts = this.options.replayAttempts ?? 3;
    const backoff = { type: 'exponential', delay: this.options.replayBackoffMs ?? 1000 };
    await this.queue.addBulk(
      letters.map((letter) => ({
        name: letter.reason,
        data: letter,
        opts: { jobId: deadLetterId(letter, letter.offset), attempts, backoff },
      }))
    );
  }

  /** Entries not replayed yet (all entries with `all`), oldest first. */
  async list(limit = 100, all = false): Promise<DeadLetterEntry[]> {
    const states: JobType[] = all ? [...pendingStates, 'completed'] : pendingStates;
    const jobs = await this.queue.getJobs(states, 0, Math.max(0, limit - 1), true);
    const entries = await Promise.all(
      jobs
        .filter((j) => j !== undefined && j !== null)
        .map(async (j) => ({
          id: String(j.id),
          state: String(await j.getState()),
          replayAttempts: j.attemptsMade,
          ...(j.failedReason ? { replayError: j.failedReason } : {}),
          letter: j.data as DeadLetter,
        }))
    );
    return entries.slice(0, limit);
  }

  /** Entries not replayed yet: dead-lettered, being replayed, or whose replay failed. */
  async size(): Promise<number> {
    const counts = await this.queue.getJobCounts(...pendingStates);
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Removes every entry (and the replay marks); returns how many entries there were. */
  async purge(): Promise<number> {
    const counts = await this.queue.getJobCounts(...pendingStates, 'completed');
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    await this.queue.obliterate({ force: true });
    await this.queue.client.then((c) => c.del(deadLetterReplayedKey(this.job)));
    return total;
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.connection) await this.connection.quit().catch(() => this.connection?.disconnect());
  }
}

/**
 * Entries of the job's dead-letter queue not replayed yet, read through the checkpoint store's
 * connection: what the driver's `sluice_dead_letter_queue_size` gauge should show.
 */
export async function deadLetterQueueSize(store: CheckpointStore): Promise<number> {
  const dlq = DeadLetterQueue.on(store.client, store.job);
  try {
    return await dlq.size();
  } finally {
    await dlq.close();
  }
}
