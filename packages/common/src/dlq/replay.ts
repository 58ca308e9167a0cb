import { Worker, type Job as BullJob } from 'bullmq';
import Redis from 'ioredis';
import { jobKeys } from '../checkpoint/keys';
import { type CheckpointStore } from '../checkpoint/store';
import { SluiceError } from '../errors';
import type { CommitOutcome, Job, ProcessContext, RedisWrite } from '../job/types';
import type { Logger } from '../logging';
import {
  DeadLetterQueue,
  deadLetterPrefix,
  deadLetterQueueName,
  deadLetterReplayedKey,
  fromDeadLetter,
  type DeadLetter,
} from './dead-letter-queue';

/**
 * Applies the outputs of one replayed dead letter and marks it replayed, in one atomic step, unless
 * it is marked already (a retried or repeated replay of the same entry then changes nothing).
 *
 * KEYS[1]    replayed hash  sluice:{J}:dlq:replayed (entry id -> time)
 * KEYS[2..]  sink keys      (the job's hash tag)
 * ARGV[1]    entry id       <topic>:<partition>:<offset>
 * ARGV[2]    time (ms)
 * ARGV[3..]  writes, 4 values each: op, key index into KEYS, arg1, arg2 (as commit-chunk-n.lua)
 * Result: {'committed'} | {'skipped'} (already replayed) | {'invalid', reason} (nothing applied)
 */
const replayCommitLua = `
local rcall = redis.call
if rcall('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {'skipped'}
end
local expectedType = { hincrby = 'hash', hset = 'hash', incrby = 'string', set = 'string', sadd = 'set', rpush = 'list' }
local typeOf = {}
for i = 3, #ARGV, 4 do
  local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  local wanted = expectedType[op]
  if wanted == nil or key == nil then
    return {'invalid', 'unknown sink write ' .. tostring(op)}
  end
  typeOf[key] = typeOf[key] or rcall('TYPE', key)['ok']
  if typeOf[key] == 'none' then
    typeOf[key] = wanted
  elseif typeOf[key] ~= wanted then
    return {'invalid', op .. ' on ' .. key .. ', which holds a ' .. typeOf[key]}
  end
  local increment = (op == 'hincrby' and ARGV[i + 3]) or (op == 'incrby' and ARGV[i + 2]) or nil
  if increment ~= nil and not string.match(increment, '^-?%d+$') then
    return {'invalid', op .. ' on ' .. key .. ' by a non-integer ' .. increment}
  end
end
for i = 3, #ARGV, 4 do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  if op == 'hincrby' then rcall('HINCRBY', key, a, b)
  elseif op == 'incrby' then rcall('INCRBY', key, a)
  elseif op == 'hset' then rcall('HSET', key, a, b)
  elseif op == 'set' then rcall('SET', key, a)
  elseif op == 'sadd' then rcall('SADD', key, a)
  elseif op == 'rpush' then rcall('RPUSH', key, a)
  end
end
rcall('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'committed'}
`;

type ReplayRedis = Redis & { sluiceReplayCommit(...args: Array<string | number>): Promise<[string, string?]> };

/** Commits the outputs of one replayed entry (see the script above). Exactly-once per entry id. */
export async function commitReplay(client: Redis, job: string, entryId: string, writes: RedisWrite[]): Promise<CommitOutcome> {
  const redis = client as ReplayRedis;
  if (typeof redis.sluiceReplayCommit !== 'function') redis.defineCommand('sluiceReplayCommit', { lua: replayCommitLua });
  const keys = [deadLetterReplayedKey(job)];
  const index = new Map<string, number>();
  const args: string[] = [];
  const keysOf = jobKeys(job);
  for (const w of writes) {
    const key = keysOf.output(w.key);
    let i = index.get(key);
    if (i === undefined) {
      keys.push(key);
      i = keys.length;
      index.set(key, i);
    }
    const [a, b] =
      w.op === 'hincrby'
        ? [w.field, String(w.by)]
        : w.op === 'incrby'
          ? [String(w.by), '']
          : w.op === 'hset'
            ? [w.field, w.value]
            : w.op === 'set'
              ? [w.value, '']
              : w.op === 'sadd'
                ? [w.member, '']
                : [w.value, ''];
    args.push(w.op, String(i), a, b);
  }
  const reply = await redis.sluiceReplayCommit(keys.length, ...keys, entryId, String(Date.now()), ...args);
  if (reply[0] === 'invalid')
    throw new SluiceError('SLUICE_PROCESS_FAILED', `dead letter ${entryId}: sink output cannot be applied: ${reply[1]}`);
  return reply[0] === 'committed' ? { status: 'committed' } : { status: 'skipped', storedOffset: null };
}

export interface ReplayOptions {
  job: Job;
  jobName: string;
  redisUrl: string;
  /** The job's checkpoint store: its connection applies the outputs. */
  store: CheckpointStore;
  logger: Logger;
  /** Entries replayed at once (default 1: in dead-letter order). */
  concurrency?: number;
  /** How often to look whether the queue is drained (ms). */
  pollMs?: number;
}

export interface ReplayReport {
  /** Entries whose outputs this replay committed. */
  replayed: number;
  /** Entries found marked replayed already (their outputs were committed by an earlier replay). */
  alreadyReplayed: number;
  /** Entries that exhausted their replay attempts; they stay in the queue, in state `failed`. */
  failed: number;
  /** Ids of the failed entries with their last error. */
  failures: Array<{ id: string; error: string }>;
}

/**
 * `sluice dlq replay`: moves entries whose earlier replay failed back to waiting, then runs a BullMQ
 * Worker that calls the job's `decode` and `process` on each entry's record and commits the
 * outputs through the job's sink, until no entry is waiting, delayed (backoff) or active. A failing
 * entry is retried by BullMQ (`deadLetter.replayAttempts`, exponential backoff from
 * `deadLetter.replayBackoffMs`, fixed when the entry was dead-lettered).
 *
 * Redis sinks: the outputs and the entry's replay mark are one Lua script, so an entry's outputs
 * apply exactly once however often it is replayed. `idempotentSink`: `write` runs first, then the
 * mark; at-least-once, as in the job itself.
 */
export async function replayDeadLetters(options: ReplayOptions): Promise<ReplayReport> {
  const { job, jobName, store, logger } = options;
  const report: ReplayReport = { replayed: 0, alreadyReplayed: 0, failed: 0, failures: [] };
  const dlq = DeadLetterQueue.on(store.client, jobName);
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  let worker: Worker | undefined;
  try {
    await dlq.queue.retryJobs({ state: 'failed' });
    worker = new Worker(
      deadLetterQueueName(jobName),
      async (entry: BullJob<DeadLetter>) => {
        const letter = entry.data;
        const raw = fromDeadLetter(letter);
        const record = job.decode ? { ...raw, value: (await job.decode(raw)) as Buffer | null } : raw;
        const context: ProcessContext = {
          job: jobName,
          batchId: letter.batchId,
          topic: letter.topic,
          partition: letter.partition,
          fromOffset: raw.offset,
          untilOffset: raw.offset + 1n,
          attempt: entry.attemptsMade,
          logger: logger.child({ topic: letter.topic, partition: letter.partition, offset: letter.offset, replay: true }),
        };
        const result = await job.process([record], context);
        const outputs = !result ? [] : Array.isArray(result) ? (result as unknown[]) : Array.from(result);
        const outcome = await job.sink.commit(outputs, {
          context,
          commit: (writes) => commitReplay(store.client, jobName, String(entry.id), writes),
        });
        if (outcome.status === 'committed') report.replayed++;
        else report.alreadyReplayed++;
        return outcome.status;
      },
      { connection, prefix: deadLetterPrefix(jobName), concurrency: options.concurrency ?? 1, autorun: true }
    );
    worker.on('error', (e) => logger.warn({ err: e.message }, 'dead-letter replay worker error'));
    worker.on('failed', (entry, e) => {
      if (!entry) return;
      const final = entry.attemptsMade >= (entry.opts.attempts ?? 1);
      logger.warn({ id: entry.id, attempt: entry.attemptsMade, final, err: e.message }, 'dead-letter replay failed');
      if (final) {
        report.failed++;
        report.failures.push({ id: String(entry.id), error: e.message });
      }
    });
    // Drained when nothing is waiting, in backoff or running, twice in a row.
    let idle = 0;
    while (idle < 2) {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
      const counts = await dlq.queue.getJobCounts('waiting', 'paused', 'prioritized', 'delayed', 'active');
      idle = Object.values(counts).every((n) => n === 0) ? idle + 1 : 0;
    }
  } finally {
    await worker?.close();
    await dlq.close();
    await connection.quit().catch(() => connection.disconnect());
  }
  return report;
}
