import { createHash } from 'node:crypto';
import type { SourceMode } from '../config/schema';
import { isSluiceError, RedisPermissionError, type RedisRefusal } from '../errors';
import type { Logger } from '../logging';
import { blockKeys } from '../receiver/block-log';
import { jobKeys, type JobKeys } from './keys';
import { redisUser } from './refusals';
import { commandsCalledBy, scriptSources, type ScriptName, type ScriptedRedis } from './scripts';
import type { CheckpointStore } from './store';

/**
 * The start-up check of a driver's or an executor's Redis permissions: before it does anything,
 * a process asks Redis whether its ACL user may run every command it will send, on the job's own
 * keys, and fails with SLUICE_REDIS_NOPERM naming the user and the command or key pattern missing.
 *
 * Nothing is run to find out: `ACL DRYRUN` and `ACL GETUSER` are admin commands a job's user does
 * not have, and trying the commands themselves would write. The check is one call of a Lua script
 * (check-access-0.lua) that asks `redis.acl_check_cmd` about each command, so it also proves the
 * user may run scripts, which both roles need for every commit. In receiver mode it also covers
 * the block log's scripts and the write-ahead log streams.
 */

export type RedisRole = 'driver' | 'executor';

export interface AccessCheckOptions {
  role: RedisRole;
  /** The job's source mode: receiver mode adds its block log and write-ahead log. */
  mode: SourceMode;
  logger: Logger;
}

/** A command as the role sends it; arguments ACLs do not look at are placeholders. */
type Words = [string, ...string[]];

/** One question to Redis, and what a "no" means. */
interface Check {
  words: Words;
  refused: RedisRefusal['refused'];
  neededFor: string;
}

const scriptsOf: Record<RedisRole, ScriptName[]> = {
  driver: ['writePlan', 'commitBatch', 'renewLease', 'releaseLease', 'commitChunks', 'followOffsets'],
  executor: ['commitChunks'],
};

/** Receiver mode's scripts on top: the driver records, allocates and commits blocks; block tasks commit. */
const receiverScriptsOf: Record<RedisRole, ScriptName[]> = {
  driver: ['recordBlock', 'allocateBlocks', 'commitBlock', 'commitBlockBatch'],
  executor: ['commitBlock'],
};

/** The job's keys each role reads and writes (sink keys, named by the job, are checked as they are written). */
function keysOf(role: RedisRole, k: JobKeys): string[] {
  return role === 'driver'
    ? [k.offsets, k.epoch, k.leader, k.leaderInfo, k.planned, k.committed, k.batches, k.stages, k.totals, k.counts]
    : [k.offsets, k.epoch, k.stages, k.planned, k.counts];
}

/** Receiver mode's keys on top; a write-ahead log stands for every receiver's (their ids are `receiver-<i>`). */
function receiverKeysOf(job: string): { keys: string[]; wal: string } {
  const b = blockKeys(job);
  const wal = b.wal('receiver-0');
  return { keys: [b.blocks, b.unallocated, b.planned, b.done, wal], wal };
}

/** What receiver mode sends outside its scripts (block-log.ts): the logs' streams and the driver's reads. */
function receiverCommandsOf(role: RedisRole, job: string): Array<{ words: Words; neededFor: string }> {
  const b = blockKeys(job);
  const { wal } = receiverKeysOf(job);
  const log = `which the ${role} needs for the write-ahead log (receiver.writeAheadLog)`;
  const blocks = `which the ${role} needs for the block log`;
  if (role === 'executor') {
    return [
      { words: ['XADD', wal, '*', 'block', 'id', 'data', 'x'], neededFor: log },
      { words: ['WAIT', '1', '1000'], neededFor: `${log} with receiver.walReplicas` },
      { words: ['XRANGE', wal, '-', '+'], neededFor: log },
    ];
  }
  return [
    { words: ['HGETALL', b.planned], neededFor: blocks },
    { words: ['LLEN', b.unallocated], neededFor: blocks },
    { words: ['HGETALL', b.done], neededFor: blocks },
    { words: ['HMGET', b.blocks, 'block'], neededFor: blocks },
    { words: ['XLEN', wal], neededFor: log },
    { words: ['MEMORY', 'USAGE', wal], neededFor: `${log}: its size in the metrics` },
  ];
}

/** What each role sends outside its scripts, exactly as the checkpoint store and the lease send it. */
function directCommandsOf(role: RedisRole, k: JobKeys): Array<{ words: Words; neededFor: string }> {
  const needs = (what: string): string => `which the ${role} needs for ${what}`;
  const [lease, epoch, checkpoint, history] = [
    needs('the leader lease'),
    needs('the fencing epoch'),
    needs('reading the checkpoint'),
    needs('the batch history'),
  ];
  if (role === 'executor') {
    return [
      { words: ['GET', k.epoch], neededFor: epoch },
      { words: ['HGET', k.offsets, 'topic:0'], neededFor: checkpoint },
      { words: ['HMGET', k.planned, 'id', 'range:topic:0'], neededFor: needs('checking a task against the plan') },
      { words: ['MGET', k.leader, k.leaderInfo], neededFor: needs('finding the driver that leads') },
    ];
  }
  return [
    { words: ['SET', k.leader, 'driver-id', 'PX', '10000', 'NX'], neededFor: lease },
    { words: ['GET', k.leader], neededFor: lease },
    { words: ['PTTL', k.leader], neededFor: lease },
    { words: ['MGET', k.leader, k.leaderInfo], neededFor: lease },
    { words: ['INCR', k.epoch], neededFor: epoch },
    { words: ['GET', k.epoch], neededFor: epoch },
    { words: ['HGETALL', k.offsets], neededFor: checkpoint },
    { words: ['HGET', k.offsets, 'topic:0'], neededFor: checkpoint },
    { words: ['GET', k.committed], neededFor: checkpoint },
    { words: ['HGET', k.planned, 'plan'], neededFor: checkpoint },
    { words: ['HGET', k.stages, 'topic:0@0'], neededFor: checkpoint },
    { words: ['XREVRANGE', k.batches, '+', '-', 'COUNT', '1'], neededFor: history },
    { words: ['HGETALL', k.totals], neededFor: history },
    { words: ['HGETALL', k.counts], neededFor: history },
  ];
}

/**
 * Every question, in the order a refusal is reported: the scripting commands themselves (a "no"
 * to those would make every key look refused), then each key through a script declaring it (EVAL
 * needs read and write access to its keys), then each command on a key now known to be allowed.
 */
function checksOf(role: RedisRole, mode: SourceMode, job: string): Check[] {
  const receiver = mode === 'receiver';
  const k = jobKeys(job);
  const names = receiver ? [...scriptsOf[role], ...receiverScriptsOf[role]] : scriptsOf[role];
  const scripts = scriptSources().filter((s) => names.includes(s.name));
  const scripting = `which the ${role} needs for its Lua scripts (run by EVAL, then EVALSHA)`;
  // ioredis sends a script by EVAL the first time on a connection, by EVALSHA after that.
  const sha = createHash('sha1').update('return 1').digest('hex');
  const keys = receiver ? [...keysOf(role, k), ...receiverKeysOf(job).keys] : keysOf(role, k);
  const commands = receiver ? [...directCommandsOf(role, k), ...receiverCommandsOf(role, job)] : directCommandsOf(role, k);
  return [
    { words: ['EVAL', 'return 1', '0'], refused: 'command', neededFor: scripting },
    { words: ['EVALSHA', sha, '0'], refused: 'command', neededFor: scripting },
    ...keys.map((key): Check => ({ words: ['EVAL', 'return 1', '1', key], refused: 'keys', neededFor: `one of the ${role}'s keys` })),
    ...commands.map((c): Check => ({ ...c, refused: 'command' })),
    ...scripts.flatMap(({ name, lua }) =>
      commandsCalledBy(lua).map((command): Check => ({
        words: [command, keys[0] as string],
        refused: 'command',
        neededFor: `which the ${role} needs for its Lua script ${name}`,
      }))
    ),
  ];
}

/**
 * Fails with SLUICE_REDIS_NOPERM when the store's ACL user may not run a command `role` needs on
 * the job's keys. On Redis before 7.0 (no `redis.acl_check_cmd`) only scripting is checked.
 */
export async function checkRedisAccess(store: CheckpointStore, { role, mode, logger }: AccessCheckOptions): Promise<void> {
  const redis = store.client as ScriptedRedis;
  const user = redisUser(redis);
  const checks = checksOf(role, mode, store.job);
  let reply: Array<string | number>;
  try {
    reply = (await redis.checkAccess(checks.flatMap(({ words }) => [words.length, ...words]))) as Array<string | number>;
  } catch (e) {
    // The check is a script: a user who may not run scripts is refused it outright.
    if (!isSluiceError(e) || e.code !== 'SLUICE_REDIS_NOPERM') throw e;
    throw await described(redis, { ...(e as RedisPermissionError).refusal, neededFor: checks[0]?.neededFor });
  }
  if (reply[0] === 'unsupported') {
    logger.info({ user }, 'Redis before 7.0 cannot check ACL permissions ahead: a refused command fails as it runs');
    return;
  }
  const refused = checks.find((_, i) => Number(reply[i + 1]) !== 1);
  if (!refused) return;
  const [command, ...args] = refused.words;
  const keys = refused.refused === 'keys' ? [args[args.length - 1] as string] : [];
  throw await described(redis, { user, command, keys, refused: refused.refused, neededFor: refused.neededFor });
}

/** The refusal with the ACL categories of its command, which the message offers as a grant (when Redis tells them). */
async function described(redis: ScriptedRedis, refusal: RedisRefusal): Promise<RedisPermissionError> {
  if (refusal.refused !== 'command') return new RedisPermissionError(refusal);
  const info = (await redis.command('INFO', refusal.command).catch(() => [])) as unknown[][];
  const categories = (info[0]?.[6] as string[] | undefined)?.filter((c) => c !== '@slow' && c !== '@fast');
  return new RedisPermissionError({ ...refusal, ...(categories?.length ? { categories } : {}) });
}
