import type Redis from 'ioredis';
import { CheckpointConflictError, FencedError, RedisUnavailableError, SluiceError } from '../errors';
import type { RedisWrite } from '../job/types';
import { partitionKey, type OffsetRange, type TopicPartition } from '../kafka/types';
import { createRedis, redisTargetUrl, type RedisTarget } from './connection';
import { jobKeys, type JobKeys } from './keys';
import { registerScripts, type ScriptedRedis } from './scripts';

/** The plan of one batch, persisted before dispatch and replayed unchanged after a crash. */
export interface BatchPlan {
  id: number;
  epoch: string;
  /** Wall-clock time the batch was due (ms since the epoch), as Spark's batch time. */
  time: number;
  ranges: OffsetRange[];
  /**
   * Checkpoints this plan moves forward before any task runs because their records are gone
   * (`failOnDataLoss = false`); each range's `fromOffset` is then the skip's `from`.
   */
  skips?: OffsetSkip[];
}

/** A checkpoint moved past records that no longer exist (see the write-plan script). */
export interface OffsetSkip extends TopicPartition {
  /** The stored offset the planner saw: the script moves it only from exactly this value. */
  checkpoint: bigint;
  /** The new stored offset: the partition's earliest offset. */
  from: bigint;
  /** Records lost: `earliest - checkpoint` for retention; 0 (unknown) for a reset. */
  lost: bigint;
  /** `retention`: checkpoint below the log start; `reset`: beyond the latest offset (topic recreated). */
  reason: 'retention' | 'reset';
}

/** What the history keeps per committed batch (the `batches` stream). */
export interface BatchSummary {
  id: number;
  epoch: string;
  time: number;
  records: number;
  bytes: number;
  /** Due time to the start of planning: how long the batch waited for the previous one. */
  schedulingDelayMs: number;
  /** Partition discovery, offsets and writing the plan. */
  planMs: number;
  /** Dispatch to the last task committed. */
  processingMs: number;
  /** Due time to the last task committed. */
  totalDelayMs: number;
  /** Records skipped because they were gone before they could be read (`failOnDataLoss = false`). */
  lostRecords?: number;
  /** Non-empty ranges only, with the executor and attempt that committed each. */
  ranges: Array<{
    topic: string;
    partition: number;
    from: string;
    until: string;
    records: number;
    executor: string;
    attempt: number;
    durationMs: number;
    /** With speculation: whether the committing attempt was the speculative copy. */
    speculative?: boolean;
    /** With speculation: the attempts that ran side by side, which one won. */
    copies?: Array<{ executor: string; attempt: number; speculative: boolean; outcome: 'won' | 'lost' }>;
  }>;
}

export type ChunkCommitResult = { status: 'committed' } | { status: 'staged' } | { status: 'skipped'; storedOffset: bigint | null };

interface SerializedPlan {
  id: number;
  epoch: string;
  time: number;
  ranges: Array<{ topic: string; partition: number; from: string; until: string }>;
  skips?: Array<{ topic: string; partition: number; checkpoint: string; from: string; lost: string; reason: OffsetSkip['reason'] }>;
}

/**
 * The Redis side of exactly-once: offsets (the source of truth), the fencing epoch, the planned
 * batch and the history of committed ones. Every state change that must be atomic is one Lua script.
 */
export class CheckpointStore {
  readonly keys: JobKeys;

  private constructor(
    private readonly redis: ScriptedRedis,
    readonly job: string
  ) {
    this.keys = jobKeys(job);
  }

  /** Connects and checks Redis answers; fails fast with a clear error instead of retrying forever. */
  static async connect(target: RedisTarget, job: string, options: { connectTimeoutMs?: number } = {}): Promise<CheckpointStore> {
    const redis = createRedis(target, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? (typeof target === 'string' ? undefined : target.connectTimeoutMs) ?? 3000,
      // Commands fail fast while disconnected rather than queueing without bound.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      // The commits of a group of tasks (one per range) leave in one socket write, not one each.
      enableAutoPipelining: true,
    });
    // Connection errors surface through the failing command; remember the last one for the message
    // (ioredis would otherwise print them to stderr, and the command only says "Connection is closed").
    let lastConnectionError: Error | undefined;
    redis.on('error', (e: Error) => (lastConnectionError = e));
    try {
      await redis.connect();
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      const cause = lastConnectionError ?? (e as Error);
      throw new RedisUnavailableError(`cannot reach Redis at ${redisTargetUrl(target)}: ${cause.message}`, cause);
    }
    return new CheckpointStore(registerScripts(redis), job);
  }

  /** Raw client, for sink reads in tests and tools. */
  get client(): Redis {
    return this.redis;
  }

  async close(): Promise<void> {
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
    const plan = JSON.parse(json) as SerializedPlan;
    return {
      ...plan,
      ranges: plan.ranges.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        fromOffset: BigInt(r.from),
        untilOffset: BigInt(r.until),
      })),
      skips: plan.skips?.map((k) => ({
        topic: k.topic,
        partition: k.partition,
        checkpoint: BigInt(k.checkpoint),
        from: BigInt(k.from),
        lost: BigInt(k.lost),
        reason: k.reason,
      })),
    };
  }

  /**
   * Persists the plan before dispatch, the `from` of partitions seen for the first time, and the
   * plan's skips (checkpoints moved past deleted records, compare-and-set; see write-plan-3.lua).
   * @throws FencedError when `plan.epoch` is no longer current; CheckpointConflictError when a
   *   skipped partition's stored offset is neither the one planned from nor already moved by this plan.
   */
  async writePlan(plan: BatchPlan): Promise<void> {
    const { skips, ...rest } = plan;
    const serialized: SerializedPlan = {
      ...rest,
      ranges: plan.ranges.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        from: String(r.fromOffset),
        until: String(r.untilOffset),
      })),
    };
    if (skips && skips.length > 0) {
      serialized.skips = skips.map((k) => ({
        topic: k.topic,
        partition: k.partition,
        checkpoint: String(k.checkpoint),
        from: String(k.from),
        lost: String(k.lost),
        reason: k.reason,
      }));
    }
    const untilOf = new Map(plan.ranges.map((r) => [partitionKey(r), String(r.untilOffset)]));
    const skipArgs = (skips ?? []).flatMap((k) => [
      partitionKey(k),
      String(k.checkpoint),
      String(k.from),
      untilOf.get(partitionKey(k)) ?? String(k.from),
    ]);
    const initial = plan.ranges.flatMap((r) => [partitionKey(r), String(r.fromOffset)]);
    const reply = await this.redis.writePlan(
      this.keys.epoch,
      this.keys.planned,
      this.keys.offsets,
      plan.epoch,
      String(plan.id),
      JSON.stringify(serialized),
      String((skips ?? []).length),
      skipArgs,
      initial
    );
    if (reply[0] === 'fenced') throw new FencedError(BigInt(plan.epoch), reply[1] ?? null);
    if (reply[0] === 'skip-conflict') {
      throw new CheckpointConflictError(
        `batch ${plan.id} cannot skip ${reply[1]} past deleted records: its stored offset is ${reply[2] ?? 'none'}, ` +
          `not ${reply[3]} as planned (changed by someone else since planning)`,
        { batchId: plan.id, partition: reply[1] }
      );
    }
  }

  /**
   * Applies `writes` and advances `tp` from `from` to `until` atomically, if the epoch is current
   * and the stored offset is `from`. Otherwise nothing changes and the stored offset is returned.
   */
  async commitChunk(
    epoch: string,
    tp: TopicPartition,
    from: bigint,
    until: bigint,
    writes: RedisWrite[],
    pieceStart?: bigint
  ): Promise<ChunkCommitResult> {
    const keys = [this.keys.offsets, this.keys.epoch, this.keys.stages];
    const args = this.encodeWrites(writes, keys);
    const mode = pieceStart === undefined ? 'commit' : 'stage';
    return this.runCommit(keys, tp, from, until, epoch, mode, pieceStart === undefined ? '' : String(pieceStart), args);
  }

  /**
   * Applies the outputs of one replayed dead letter and marks it replayed, once per entry id
   * (replay-dead-letter-n.lua): a repeated replay is `skipped`.
   */
  async commitReplay(entryId: string, replayedKey: string, writes: RedisWrite[]): Promise<ChunkCommitResult> {
    const keys = [replayedKey];
    const args = this.encodeWrites(writes, keys);
    const reply = await this.redis.replayDeadLetter([keys.length, ...keys, entryId, String(Date.now()), ...args]);
    if (reply[0] === 'invalid') {
      throw new SluiceError('SLUICE_PROCESS_FAILED', `dead letter ${entryId}: sink output cannot be applied: ${reply[1]}`);
    }
    return reply[0] === 'committed' ? { status: 'committed' } : { status: 'skipped', storedOffset: null };
  }

  /**
   * The writes as script arguments (op, key index, arg1, arg2), appending each distinct sink key
   * to `keys` (the scripts' KEYS, 1-based).
   */
  private encodeWrites(writes: RedisWrite[], keys: string[]): string[] {
    const keyIndex = new Map<string, number>();
    const args: string[] = [];
    for (const w of writes) {
      const key = this.keys.output(w.key);
      let index = keyIndex.get(key);
      if (index === undefined) {
        keys.push(key);
        index = keys.length;
        keyIndex.set(key, index);
      }
      const [a, b] = writeArgs(w);
      args.push(w.op, String(index), a, b);
    }
    return args;
  }

  /**
   * Applies the stage of the piece of `tp` starting at `pieceStart` (see the commit script), if the
   * stored offset has reached it. A missing stage (already applied, or never staged) is `skipped`.
   */
  async applyStage(epoch: string, tp: TopicPartition, pieceStart: bigint): Promise<ChunkCommitResult> {
    const stage = await this.redis.hget(this.keys.stages, `${partitionKey(tp)}@${pieceStart}`);
    const staged = stage === null ? [] : (JSON.parse(stage) as { w: Array<[string, string]> | Record<string, never> }).w;
    // The script must be told every key it touches: the stage's sink keys, found in the stage itself.
    const sinkKeys = [...new Set((Array.isArray(staged) ? staged : []).map((w) => w[1]))];
    return this.runCommit(
      [this.keys.offsets, this.keys.epoch, this.keys.stages, ...sinkKeys],
      tp,
      pieceStart,
      pieceStart,
      epoch,
      'apply',
      '',
      []
    );
  }

  private async runCommit(
    keys: string[],
    tp: TopicPartition,
    from: bigint,
    until: bigint,
    epoch: string,
    mode: 'commit' | 'stage' | 'apply',
    pieceStart: string,
    writeArgs: string[]
  ): Promise<ChunkCommitResult> {
    // One argument list, passed as one array (ioredis flattens it): spreading a chunk with tens of
    // thousands of distinct outputs into a call would overflow the stack.
    const argv: Array<string | number> = [keys.length];
    for (const k of keys) argv.push(k);
    argv.push(partitionKey(tp), String(from), String(until), epoch, mode, pieceStart);
    for (const a of writeArgs) argv.push(a);
    const reply = await this.redis.commitChunk(argv);
    if (reply[0] === 'fenced') throw new FencedError(BigInt(epoch), reply[1] ?? null);
    if (reply[0] === 'invalid') {
      throw new SluiceError(
        'SLUICE_PROCESS_FAILED',
        `${partitionKey(tp)} [${from}, ${until}): sink output cannot be applied: ${reply[1]}`,
        {
          details: { topic: tp.topic, partition: tp.partition, from: String(from), until: String(until) },
        }
      );
    }
    if (reply[0] === 'committed') return { status: 'committed' };
    if (reply[0] === 'staged') return { status: 'staged' };
    const stored = reply[1];
    return { status: 'skipped', storedOffset: stored === null || stored === undefined ? null : BigInt(stored) };
  }

  /**
   * Marks the batch committed after checking every range reached its `until`, and appends its
   * summary to the capped history.
   */
  async commitBatch(plan: BatchPlan, summary: BatchSummary, historySize: number): Promise<void> {
    const expected = plan.ranges.flatMap((r) => [partitionKey(r), String(r.untilOffset)]);
    const k = this.keys;
    const reply = await this.redis.commitBatch(
      k.epoch,
      k.planned,
      k.offsets,
      k.committed,
      k.batches,
      k.totals,
      plan.epoch,
      String(plan.id),
      historySize,
      JSON.stringify(summary),
      summary.records,
      summary.bytes,
      expected
    );
    switch (reply[0]) {
      case 'ok':
        return;
      case 'fenced':
        throw new FencedError(BigInt(plan.epoch), reply[1] ?? null);
      case 'not-planned':
        throw new CheckpointConflictError(`batch ${plan.id} is not the planned batch (planned: ${reply[1] ?? 'none'})`, {
          batchId: plan.id,
        });
      default:
        throw new CheckpointConflictError(
          `batch ${plan.id} cannot commit: ${reply[1]} is at ${reply[2] ?? 'no offset'}, not at the end of its range`,
          {
            batchId: plan.id,
            partition: reply[1],
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

function writeArgs(w: RedisWrite): [string, string] {
  switch (w.op) {
    case 'hincrby':
      return [w.field, String(w.by)];
    case 'incrby':
      return [String(w.by), ''];
    case 'hset':
      return [w.field, w.value];
    case 'set':
      return [w.value, ''];
    case 'sadd':
      return [w.member, ''];
    case 'rpush':
      return [w.value, ''];
  }
}

/** Hides the password of a Redis URL in messages. */
export { redactUrl } from './connection';
