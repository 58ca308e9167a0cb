/**
 * The one error hierarchy of sluice. Every error a user or operator can see carries a stable
 * `code` (greppable in logs and docs), a `retriable` flag that tells the scheduler whether trying
 * again can help, and structured fields naming what failed (topic, partition, key, ...).
 */

export const errorCodes = [
  'SLUICE_CONFIG_INVALID',
  'SLUICE_JOB_INVALID',
  'SLUICE_TOPIC_NOT_FOUND',
  'SLUICE_DATA_LOSS',
  'SLUICE_RANGE_NOT_VISIBLE',
  'SLUICE_KAFKA_UNAVAILABLE',
  'SLUICE_REDIS_UNAVAILABLE',
  'SLUICE_REDIS_NOPERM',
  'SLUICE_CHECKPOINT_CONFLICT',
  'SLUICE_FENCED',
  'SLUICE_TASK_OUTSIDE_PLAN',
  'SLUICE_TASK_FAILED',
  'SLUICE_EXECUTOR_LOST',
  'SLUICE_NO_EXECUTORS',
  'SLUICE_RPC',
  'SLUICE_PROCESS_FAILED',
  'SLUICE_LEASE_HELD',
  'SLUICE_LEASE_LOST',
  'SLUICE_SHUTDOWN_TIMEOUT',
  'SLUICE_INVALID_REQUEST',
  'SLUICE_KAFKA_AUTH_FAILED',
  'SLUICE_SINK_UNAVAILABLE',
  'SLUICE_PRODUCER_FENCED',
  'SLUICE_BLOCK_LOST',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

const brand = Symbol.for('sluice.error');

export interface SluiceErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Structured context, e.g. `{ topic, partition, key }`; logged and sent over gRPC. */
  details?: Record<string, unknown>;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;
  readonly [brand] = true;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(`[${code}] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }
}

/** Brand check: works across jest realms and duplicate copies of this package, unlike `instanceof`. */
export function isSluiceError(e: unknown): e is SluiceError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[brand] === true;
}

/** A configuration key is unknown, missing or invalid. The message names the key. */
export class ConfigError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SLUICE_CONFIG_INVALID', message, { details });
  }
}

/** The job module cannot be loaded or does not export a valid job. */
export class JobError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super('SLUICE_JOB_INVALID', message, { cause });
  }
}

/** A subscribed topic does not exist in the cluster. */
export class TopicNotFoundError extends SluiceError {
  constructor(readonly topics: string[]) {
    super('SLUICE_TOPIC_NOT_FOUND', `topic(s) not found in Kafka: ${topics.join(', ')}`, { details: { topics } });
  }
}

/** Offsets that the checkpoint says are next were deleted by retention (or never existed). */
export class DataLossError extends SluiceError {
  constructor(topic: string, partition: number, requestedOffset: bigint, detail: string) {
    super('SLUICE_DATA_LOSS', `data loss on ${topic}-${partition} at offset ${requestedOffset}: ${detail}`, {
      details: { topic, partition, requestedOffset: requestedOffset.toString() },
    });
  }
}

/** The broker does not (yet) expose offsets up to `until` under the reader's isolation level. */
export class RangeNotVisibleError extends SluiceError {
  constructor(topic: string, partition: number, until: bigint, visibleEnd: bigint) {
    super(
      'SLUICE_RANGE_NOT_VISIBLE',
      `${topic}-${partition}: range ends at ${until} but the broker shows data only up to ${visibleEnd} ` +
        '(driver and executor isolation levels differ, or the log was truncated)',
      { retriable: true, details: { topic, partition, until: until.toString(), visibleEnd: visibleEnd.toString() } }
    );
  }
}

/** Kafka could not be reached or kept failing after bounded retries. */
export class KafkaUnavailableError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super('SLUICE_KAFKA_UNAVAILABLE', message, { retriable: true, cause });
  }
}

/** The brokers refused sluice's credentials (SASL): retrying cannot help. */
export class KafkaAuthError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super('SLUICE_KAFKA_AUTH_FAILED', message, { cause });
  }
}

/** Redis could not be reached. */
export class RedisUnavailableError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super('SLUICE_REDIS_UNAVAILABLE', message, { retriable: true, cause });
  }
}

/** What a Redis ACL user was refused: a command, or the keys it names. */
export interface RedisRefusal {
  user: string;
  /** The command refused, or whose keys or script were (upper case, e.g. `EVALSHA`, `SCRIPT|LOAD`). */
  command: string;
  /** `script-command`: a command inside the Lua script `command` runs (Redis does not say which). */
  refused: 'command' | 'keys' | 'script-command';
  keys: string[];
  /** Why the process needs it, as a clause: "which the driver needs for the leader lease". */
  neededFor?: string;
  /** The command's ACL categories, when known (e.g. `@scripting`): granting one of them grants it. */
  categories?: string[];
  /** Redis's own reply, kept in the message (ioredis recognises a refused INFO by its `NOPERM`). */
  reply?: string;
}

/**
 * The Redis ACL user may not run a command sluice needs, or not on the job's keys: retrying cannot
 * help. Names the user, the command and the keys, and what to grant.
 */
export class RedisPermissionError extends SluiceError {
  constructor(readonly refusal: RedisRefusal) {
    const { user, command, keys } = refusal;
    super('SLUICE_REDIS_NOPERM', refusalMessage(refusal), { details: { user, command, refused: refusal.refused, keys } });
  }
}

function refusalMessage({ user, command, refused, keys, neededFor, categories = [], reply }: RedisRefusal): string {
  const said = reply === undefined ? '' : ` [Redis: ${reply}]`;
  if (refused === 'script-command') {
    return (
      `Redis user '${user}' may not run one of the commands of the Lua script ${command} runs on ${keys.join(', ')} ` +
      `(Redis does not say which; the start-up check of a driver or executor names it)${said}`
    );
  }
  if (refused === 'command') {
    const why = neededFor === undefined ? '' : `, ${neededFor}`;
    const orCategory = categories.length > 0 ? ` (or one of its categories: ${categories.map((c) => `+${c}`).join(' ')})` : '';
    return `Redis user '${user}' may not run ${command}${why}: grant it, e.g. ACL SETUSER ${user} +${command.toLowerCase()}${orCategory}${said}`;
  }
  const pattern = keyPatternFor(keys);
  const why = neededFor === undefined ? ` (${command})` : `, ${neededFor}`;
  const which = keys.length > 1 ? `one of ${keys.join(', ')}` : keys.join(', ');
  return `Redis user '${user}' may not read and write ${which}${why}: its key patterns must include ${pattern}, e.g. ACL SETUSER ${user} ${pattern}${said}`;
}

/** The ACL key pattern that covers `keys`: the job's namespace `~sluice:{<job>}:*` for a job's keys. */
function keyPatternFor(keys: string[]): string {
  const job = keys.map((key) => /^sluice:\{([^}]*)\}:/.exec(key)?.[1]).find((j) => j !== undefined);
  return job === undefined ? keys.map((key) => `~${key}`).join(' ') : `~sluice:{${job}}:*`;
}

/** The stored offset is neither the start of the range nor inside it: the plan and the checkpoint disagree. */
export class CheckpointConflictError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SLUICE_CHECKPOINT_CONFLICT', message, { details });
  }
}

/** The caller's driver epoch is no longer current: another driver has taken over. */
export class FencedError extends SluiceError {
  constructor(callerEpoch: bigint | number, currentEpoch: string | null) {
    super('SLUICE_FENCED', `epoch ${callerEpoch} is fenced (current epoch ${currentEpoch ?? 'none'})`, {
      details: { callerEpoch: callerEpoch.toString(), currentEpoch },
    });
  }
}

/**
 * A task (or one of its chunk commits) is not inside the stored plan: another batch than the one
 * planned, a partition the plan does not hold, or offsets beyond the planned range. Nothing of it
 * is written.
 */
export class TaskOutsidePlanError extends SluiceError {
  constructor(message: string, details: Record<string, unknown>) {
    super('SLUICE_TASK_OUTSIDE_PLAN', message, { details });
  }
}

/** A task exhausted its attempts; the batch stays planned so a restart replays it. */
export class TaskFailedError extends SluiceError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super('SLUICE_TASK_FAILED', message, { details, cause });
  }
}

/** The job's own `process` code threw. Carries the coordinates of the chunk being processed. */
export class ProcessFailedError extends SluiceError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super('SLUICE_PROCESS_FAILED', message, { retriable: true, details, cause });
  }
}

/**
 * `process` returned something the job's sink cannot commit (see `Sink.validate`). `problem` names
 * the output and its field; the executor turns it into a {@link ProcessFailedError} naming the record.
 */
export class InvalidOutputError extends SluiceError {
  constructor(readonly problem: string) {
    super('SLUICE_PROCESS_FAILED', problem, { retriable: true, details: { problem } });
  }
}

/** A request from the network is malformed or asks for something outside this process's job. */
export class InvalidRequestError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SLUICE_INVALID_REQUEST', message, { details });
  }
}

/** Another live driver holds the job's leader lease. */
export class LeaseHeldError extends SluiceError {
  constructor(job: string, holder: string, message?: string) {
    super('SLUICE_LEASE_HELD', message ?? `job '${job}' already has a live driver (${holder}); only one driver may run a job`, {
      details: { job, holder },
    });
  }
}

/** Another driver took the leader lease (this one was paused or cut off): this one stops, fenced. */
export class LeaseLostError extends SluiceError {
  constructor(job: string, holder: string | null) {
    super('SLUICE_LEASE_LOST', `job '${job}': leader lease lost to ${holder ?? 'nobody (expired)'}; this driver is fenced and stops`, {
      details: { job, holder },
    });
  }
}

/** The store a sink writes to (a database) could not be reached, or dropped the connection mid-commit. */
export class SinkUnavailableError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('SLUICE_SINK_UNAVAILABLE', message, { retriable: true, details, cause });
  }
}

/**
 * kafkaSink: a newer producer took the partition's transactional id (another attempt of its task
 * started), so this one's transaction was aborted and nothing of it is visible. Retriable: the next
 * attempt starts a fresh producer.
 */
export class ProducerFencedError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('SLUICE_PRODUCER_FENCED', message, { retriable: true, details, cause });
  }
}

/**
 * Kafka, Redis or a sink's store cannot be reached: the work is not at fault and is retried once
 * they are back, without using up the task's attempts.
 */
export function isDependencyOutage(e: unknown): boolean {
  return (
    isSluiceError(e) &&
    (e.code === 'SLUICE_REDIS_UNAVAILABLE' || e.code === 'SLUICE_KAFKA_UNAVAILABLE' || e.code === 'SLUICE_SINK_UNAVAILABLE')
  );
}

/** Receiver mode: a block's records are gone (its receiver's executor died, and no write-ahead log kept them). */
export class BlockLostError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SLUICE_BLOCK_LOST', message, { details });
  }
}
