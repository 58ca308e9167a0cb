import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { CheckpointConflictError, FencedError, isDependencyOutage, isSluiceError, RedisUnavailableError, SluiceError } from '../errors';
import type { Logger } from '../logging';
import type { RedisWrite } from '../job/types';
import { partitionKey, type OffsetRange, type TopicPartition } from '../kafka/types';
import { redisWritesProblem } from '../sinks/outputs';
import { abortableWait } from '../wait';
import { ChunkCommitQueue, defaultCommitCallLimits } from './commit-queue';
import { createRedis, redisTargetUrl, type RedisTarget } from './connection';
import { jobKeys, type JobKeys } from './keys';
import { asRedisOutage } from './outage';
import { outsidePlan, outsidePlanError } from './outside-plan';
import { planFromJson, planToJson } from './plan-json';
import { decodeReply } from './replies';
import { registerScripts, type ScriptedRedis } from './scripts';
import type { BatchPlan, BatchSummary, ChunkCommit, ChunkCommitResult, CommitCallLimits, RangeCount, TaskBatch } from './types';
import { encodeWrites } from './write-args';

export interface StoreOptions {
  connectTimeoutMs?: number;
  commitCallLimits?: Partial<CommitCallLimits>;
}

/** A process started while Redis is unreachable: how long it waits, and who hears of each retry. */
export interface RedisWait {
  /** Give up after this long: 0 at the first failure, undefined never (`redis.startupTimeoutMs`). */
  timeoutMs?: number;
  /** Ends the wait early (the process is asked to stop). */
  signal?: AbortSignal;
  logger?: Logger;
}

/** First pause between attempts to reach Redis at start-up; doubled each time up to the maximum. */
const REACH_BACKOFF_MS = 250;
const MAX_REACH_BACKOFF_MS = 5000;

/**
 * The Redis side of exactly-once: offsets (the source of truth), the fencing epoch, the planned
 * batch and the history of committed ones. Every state change that must be atomic is one Lua script.
 */
export class CheckpointStore {
  readonly keys: JobKeys;
  private readonly commits: ChunkCommitQueue;

  /** The last error of the connection itself (refused, timed out, TLS, password): what a failed command does not say. */
  private lastConnectionError: Error | undefined;

  private constructor(
    private readonly redis: ScriptedRedis,
    readonly job: string,
    private readonly target: RedisTarget,
    limits: CommitCallLimits
  ) {
    this.keys = jobKeys(job);
    this.commits = new ChunkCommitQueue(redis, this.keys, limits);
    // Connection errors surface through the failing command; remember the last one for the message
    // (ioredis would otherwise print them to stderr, and the command only says "Connection is closed").
    redis.on('error', (e: Error) => (this.lastConnectionError = e));
  }

  /** Calls of the commit script made so far and the chunk commits they carried. */
  get commitStats(): { calls: number; entries: number } {
    return this.commits.stats;
  }

  /** A store whose connection {@link reach} opens. */
  static open(target: RedisTarget, job: string, options: StoreOptions = {}): CheckpointStore {
    const redis = createRedis(target, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? (typeof target === 'string' ? undefined : target.connectTimeoutMs) ?? 3000,
      // Commands fail fast while disconnected rather than queueing without bound.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      // Until Redis was first reached, a failed connection ends: reach() tries again, with its own backoff and log.
      retryStrategy: () => null,
      // Concurrent reads (and commit calls split by the size cap) leave in one socket write.
      enableAutoPipelining: true,
    });
    return new CheckpointStore(registerScripts(redis), job, target, { ...defaultCommitCallLimits, ...options.commitCallLimits });
  }

  /** Connects and checks Redis answers; fails fast with a clear error instead of retrying forever. */
  static async connect(target: RedisTarget, job: string, options: StoreOptions = {}): Promise<CheckpointStore> {
    const store = CheckpointStore.open(target, job, options);
    await store.reach({ timeoutMs: 0 });
    return store;
  }

  /**
   * Connects and checks Redis answers. While it cannot be reached (down, restarting, loading, its
   * name not resolvable yet) tries again with backoff, logging each failure, for up to `timeoutMs`.
   * A failure that trying again cannot cure (a refused password, TLS, ACL) fails at once.
   * @returns false when `signal` stopped the wait.
   * @throws RedisUnavailableError naming the URL and the last cause; RedisPermissionError (PING refused).
   */
  async reach({ timeoutMs, signal, logger }: RedisWait = {}): Promise<boolean> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      this.lastConnectionError = undefined;
      try {
        if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
        await this.redis.ping();
        // From now on ioredis reconnects by itself after an outage, while commands wait or fail fast.
        this.redis.options.retryStrategy = (times) => Math.min(times * 100, 1000);
        return true;
      } catch (e) {
        // Between attempts nothing reconnects: commands meanwhile (HTTP probes) fail at once. (A
        // connection that failed has ended already; closing it again would hide the next one's error.)
        if (this.redis.status !== 'end') this.redis.disconnect();
        if (isSluiceError(e) && e.code === 'SLUICE_REDIS_NOPERM') throw e;
        const cause = this.lastConnectionError ?? (e as Error);
        const url = redisTargetUrl(this.target);
        if (!isDependencyOutage(asRedisOutage(cause)) || timeoutMs === 0) {
          throw new RedisUnavailableError(`cannot reach Redis at ${url}: ${cause.message}`, cause);
        }
        const waited = performance.now() - started;
        if (timeoutMs !== undefined && waited >= timeoutMs) {
          throw new RedisUnavailableError(
            `cannot reach Redis at ${url}: ${cause.message} (still failing after ${Math.round(waited)} ms, redis.startupTimeoutMs ${timeoutMs})`,
            cause
          );
        }
        const backoffMs = Math.min(REACH_BACKOFF_MS * 2 ** (attempt - 1), MAX_REACH_BACKOFF_MS, (timeoutMs ?? Infinity) - waited);
        logger?.warn(
          { redis: url, attempt, err: cause.message, retryInMs: Math.round(backoffMs), startupTimeoutMs: timeoutMs ?? 'none' },
          'Redis cannot be reached yet; not ready, trying again'
        );
        if (!(await abortableWait(backoffMs, signal))) return false;
      }
    }
  }

  /** Raw client, for sink reads in tests and tools. */
  get client(): Redis {
    return this.redis;
  }

  async close(): Promise<void> {
    // Closing a closed connection again would hold the process up to ioredis' disconnectTimeout.
    if (this.redis.status === 'end') return;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Takes a new, higher epoch: every plan and commit of an older epoch is refused from now on. */
  async takeEpoch(): Promise<string> {
    return String(await this.redis.incr(this.keys.epoch));
  }

  async currentEpoch(): Promise<string | null> {
    return this.redis.get(this.keys.epoch);
  }

  async readOffsets(): Promise<Map<string, bigint>> {
    const all = await this.redis.hgetall(this.keys.offsets);
    return new Map(Object.entries(all).map(([field, value]) => [field, BigInt(value)]));
  }

  async readOffset(tp: TopicPartition): Promise<bigint | null> {
    const value = await this.redis.hget(this.keys.offsets, partitionKey(tp));
    return value === null ? null : BigInt(value);
  }

  async lastCommittedBatchId(): Promise<number> {
    return Number((await this.redis.get(this.keys.committed)) ?? 0);
  }

  async readPlan(): Promise<BatchPlan | null> {
    const json = await this.redis.hget(this.keys.planned, 'plan');
    if (json === null) return null;
    return planFromJson(json);
  }

  /**
   * Persists the plan before dispatch, the `from` of partitions seen for the first time, and the
   * plan's skips (checkpoints moved past deleted records, compare-and-set; see write-plan-4.lua).
   * The plan of another batch than the stored one replaces it, with the counts of its records.
   * @throws FencedError when `plan.epoch` is no longer current; CheckpointConflictError when a
   *   skipped partition's stored offset is neither the one planned from nor already moved by this plan.
   */
  async writePlan(plan: BatchPlan): Promise<void> {
    const untilOf = new Map(plan.ranges.map((r) => [partitionKey(r), String(r.untilOffset)]));
    const skips = plan.skips ?? [];
    const skipArgs = skips.flatMap((k) => [
      partitionKey(k),
      String(k.checkpoint),
      String(k.from),
      untilOf.get(partitionKey(k)) ?? String(k.from),
    ]);
    const ranges = plan.ranges.flatMap((r) => [partitionKey(r), String(r.fromOffset), String(r.untilOffset)]);
    const reply = decodeReply.writePlan(
      await this.redis.writePlan(
        this.keys.epoch,
        this.keys.planned,
        this.keys.offsets,
        this.keys.counts,
        plan.epoch,
        String(plan.id),
        planToJson(plan),
        String(skips.length),
        skipArgs,
        ranges
      )
    );
    if (reply.status === 'fenced') throw new FencedError(BigInt(plan.epoch), reply.currentEpoch);
    if (reply.status === 'skip-conflict') {
      throw new CheckpointConflictError(
        `batch ${plan.id} cannot skip ${reply.field} past deleted records: its stored offset is ${reply.stored ?? 'none'}, ` +
          `not ${reply.expected} as planned (changed by someone else since planning)`,
        { batchId: plan.id, partition: reply.field }
      );
    }
  }

  /**
   * Applies the chunk's writes and advances its partition from `from` to `until` atomically, and
   * counts its records for the batch, if the epoch is current, the chunk lies inside the stored
   * plan of its batch and the stored offset is `from`. Otherwise nothing changes and the stored
   * offset is returned.
   *
   * The commits made in the same turn of the event loop (the tasks of a group) go to Redis as one
   * call of the commit script (commit-chunks-n.lua), each applied or refused on its own.
   * @throws FencedError when `epoch` is no longer current; TaskOutsidePlanError when the chunk is
   *   not inside the stored plan; SluiceError SLUICE_PROCESS_FAILED when a write cannot be applied
   *   (nothing is); the Redis client's error when the call fails.
   */
  commitChunk(chunk: ChunkCommit): Promise<ChunkCommitResult> {
    // Writes come from sinks, which may be user code: a malformed one fails this commit alone.
    const problem = redisWritesProblem(chunk.writes);
    if (problem !== undefined) {
      const { tp, from, until } = chunk;
      return Promise.reject(
        new SluiceError('SLUICE_PROCESS_FAILED', `${partitionKey(tp)} [${from}, ${until}): sink output cannot be applied: ${problem}`, {
          details: { topic: tp.topic, partition: tp.partition, from: String(from), until: String(until) },
        })
      );
    }
    const { mayStage, ...commit } = chunk;
    return this.commits.enqueue({ ...commit, mode: mayStage ? 'stage' : 'commit', stageKeys: [] });
  }

  /**
   * Moves each partition's offset forward to `offset` where it is behind or absent, never back (the
   * offsets a sink's own store holds, the authority for such a sink; see follow-offsets-2.lua).
   * @returns the offsets moved, from where (null: none stored) to where
   * @throws FencedError when `epoch` is no longer current (nothing is moved)
   */
  async followOffsets(
    epoch: string,
    offsets: Array<TopicPartition & { offset: bigint }>
  ): Promise<Array<{ field: string; from: bigint | null; to: bigint }>> {
    const pairs = offsets.flatMap((o) => [partitionKey(o), String(o.offset)]);
    const reply = decodeReply.followOffsets(await this.redis.followOffsets(this.keys.offsets, this.keys.epoch, epoch, pairs));
    if (reply.status === 'fenced') throw new FencedError(BigInt(epoch), reply.currentEpoch);
    return reply.moved.map((m) => ({ field: m.field, from: m.from === null ? null : BigInt(m.from), to: BigInt(m.to) }));
  }

  /**
   * Checks, before a task starts, that its range lies inside the stored plan of its batch (the
   * commit script checks it again, atomically, for every chunk).
   * @throws TaskOutsidePlanError when it does not.
   */
  async checkInPlan(batchId: number, range: OffsetRange): Promise<void> {
    const [plannedId = null, plannedRange = null] = await this.redis.hmget(this.keys.planned, 'id', `range:${partitionKey(range)}`);
    if (outsidePlan(batchId, plannedId, plannedRange, range.fromOffset, range.untilOffset)) {
      throw outsidePlanError(batchId, range, range.fromOffset, range.untilOffset, plannedId, plannedRange);
    }
  }

  /** What the commit script counted for the planned batch so far, per task range (in no order). */
  async batchCounts(): Promise<RangeCount[]> {
    const fields = await this.redis.hgetall(this.keys.counts);
    // <topic>:<partition>@<from> -> "<records> <bytes>"; topic names hold neither ':' nor '@'.
    return Object.entries(fields).map(([field, value]) => {
      const at = field.lastIndexOf('@');
      const colon = field.lastIndexOf(':', at);
      const [records, bytes] = value.split(' ');
      return {
        topic: field.slice(0, colon),
        partition: Number(field.slice(colon + 1, at)),
        from: BigInt(field.slice(at + 1)),
        records: Number(records),
        bytes: Number(bytes),
      };
    });
  }

  /**
   * Applies the outputs of one replayed dead letter and marks it replayed, once per entry id
   * (replay-dead-letter-n.lua): a repeated replay is `skipped`.
   */
  async commitReplay(entryId: string, replayedKey: string, writes: RedisWrite[]): Promise<ChunkCommitResult> {
    const problem = redisWritesProblem(writes);
    if (problem !== undefined)
      throw new SluiceError('SLUICE_PROCESS_FAILED', `dead letter ${entryId}: sink output cannot be applied: ${problem}`);
    const keys = [replayedKey];
    const args = encodeWrites(writes, { keys, keyIndex: new Map(), outputKey: (key) => this.keys.output(key) });
    const reply = decodeReply.replayDeadLetter(
      await this.redis.replayDeadLetter([keys.length, ...keys, entryId, String(Date.now()), ...args])
    );
    if (reply.status === 'invalid') {
      throw new SluiceError('SLUICE_PROCESS_FAILED', `dead letter ${entryId}: sink output cannot be applied: ${reply.reason}`);
    }
    return reply.status === 'committed' ? { status: 'committed' } : { status: 'skipped', storedOffset: null };
  }

  /**
   * Applies the stage of the piece of `tp` starting at `pieceStart` (see the commit script), if the
   * stored offset has reached it. A missing stage (already applied, or never staged) is `skipped`.
   */
  async applyStage(batch: TaskBatch, tp: TopicPartition, pieceStart: bigint): Promise<ChunkCommitResult> {
    const stage = await this.redis.hget(this.keys.stages, `${partitionKey(tp)}@${pieceStart}`);
    const staged = stage === null ? [] : (JSON.parse(stage) as { w: Array<[string, string]> | Record<string, never> }).w;
    // The script must be told every key it touches: the stage's sink keys, found in the stage itself.
    const stageKeys = [...new Set((Array.isArray(staged) ? staged : []).map((w) => w[1]))];
    return this.commits.enqueue({
      ...batch,
      tp,
      from: pieceStart,
      until: pieceStart,
      taskFrom: pieceStart,
      mode: 'apply',
      writes: [],
      records: 0,
      bytes: 0,
      stageKeys,
    });
  }

  /**
   * Marks the batch committed after checking every range reached its `until`, and appends its
   * summary to the capped history.
   */
  async commitBatch(plan: BatchPlan, summary: BatchSummary, historySize: number): Promise<void> {
    const expected = plan.ranges.flatMap((r) => [partitionKey(r), String(r.untilOffset)]);
    const k = this.keys;
    const reply = decodeReply.commitBatch(
      await this.redis.commitBatch(
        k.epoch,
        k.planned,
        k.offsets,
        k.committed,
        k.batches,
        k.totals,
        k.counts,
        plan.epoch,
        String(plan.id),
        historySize,
        JSON.stringify(summary),
        summary.records,
        summary.bytes,
        expected
      )
    );
    switch (reply.status) {
      case 'ok':
        return;
      case 'fenced':
        throw new FencedError(BigInt(plan.epoch), reply.currentEpoch);
      case 'not-planned':
        throw new CheckpointConflictError(`batch ${plan.id} is not the planned batch (planned: ${reply.plannedId ?? 'none'})`, {
          batchId: plan.id,
        });
      case 'incomplete':
        throw new CheckpointConflictError(
          `batch ${plan.id} cannot commit: ${reply.field} is at ${reply.stored ?? 'no offset'}, not at the end of its range`,
          {
            batchId: plan.id,
            partition: reply.field,
          }
        );
    }
  }

  /** Batches, records and bytes committed since the job began (not limited by the history's cap). */
  async totals(): Promise<{ batches: number; records: number; bytes: number }> {
    const t = await this.redis.hgetall(this.keys.totals);
    return { batches: Number(t.batches ?? 0), records: Number(t.records ?? 0), bytes: Number(t.bytes ?? 0) };
  }

  /** Most recent committed batches first. */
  async history(count = 100): Promise<BatchSummary[]> {
    const entries = await this.redis.xrevrange(this.keys.batches, '+', '-', 'COUNT', count);
    return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('summary') + 1] ?? '{}') as BatchSummary);
  }
}

/** Hides the password of a Redis URL in messages. */
export { redactUrl } from './connection';
