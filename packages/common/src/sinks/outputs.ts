import { InvalidOutputError } from '../errors';
import type { RedisWrite, Sink } from '../job/types';

/**
 * Checks of what a job hands its sink. Outputs come from user code, so a malformed one must fail
 * the record it came from with a message naming the output and its field, never reach Redis as
 * `[object Object]` or `out:undefined`, and never throw inside the commit path.
 *
 * Every output of every chunk passes here: the checks build no string unless they fail.
 */

const mustBe = { value: 'a string, number or Buffer', integer: 'an integer (Number.isSafeInteger)' };

/** A hash field, set member or value: stored byte for byte (Buffer) or as its text. */
const isRedisValue = (v: unknown): boolean => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || Buffer.isBuffer(v);

/** Redis increments are 64-bit integers; a JavaScript number is exact up to 2^53. */
const isIncrement = (v: unknown): boolean => Number.isSafeInteger(v);

const valueProblem = (field: string, v: unknown): string | undefined =>
  isRedisValue(v) ? undefined : `${field} must be ${mustBe.value}, got ${describe(v)}`;
const incrementProblem = (field: string, v: unknown): string | undefined =>
  isIncrement(v) ? undefined : `${field} must be ${mustBe.integer}, got ${describe(v)}`;

/** The fields each op needs besides `op` and `key`. */
const opChecks: Record<RedisWrite['op'], (w: Record<string, unknown>) => string | undefined> = {
  hincrby: (w) => valueProblem('field', w.field) ?? incrementProblem('by', w.by),
  incrby: (w) => incrementProblem('by', w.by),
  hset: (w) => valueProblem('field', w.field) ?? valueProblem('value', w.value),
  set: (w) => valueProblem('value', w.value),
  sadd: (w) => valueProblem('member', w.member),
  rpush: (w) => valueProblem('value', w.value),
};
const ops = Object.keys(opChecks).join(', ');

/** A value as a message shows it: strings and numbers as they are, anything else by its kind. */
function describe(v: unknown): string {
  if (typeof v === 'string') return v === '' ? 'an empty string' : JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (Buffer.isBuffer(v)) return 'a Buffer';
  return typeof v;
}

/** Sink keys are names inside the job's namespace (`sluice:{<job>}:out:<key>`); `name` is how the message calls it. */
export function sinkKeyProblem(key: unknown, name = 'key'): string | undefined {
  return typeof key === 'string' && key !== '' ? undefined : `${name} must be a non-empty string, got ${describe(key)}`;
}

/** What is wrong with `write` as a {@link RedisWrite} (e.g. `value must be a string, number or Buffer, got object`), or undefined. */
export function redisWriteProblem(write: unknown): string | undefined {
  if (typeof write !== 'object' || write === null || Array.isArray(write) || Buffer.isBuffer(write))
    return `not a RedisWrite object ({ op, key, ... }): got ${describe(write)}`;
  const w = write as Record<string, unknown>;
  if (typeof w.op !== 'string' || !Object.hasOwn(opChecks, w.op)) return `op must be one of ${ops}, got ${describe(w.op)}`;
  return sinkKeyProblem(w.key) ?? opChecks[w.op as RedisWrite['op']](w);
}

/** What is wrong with the writes a sink hands the checkpoint store (naming the write: `writes[3]: ...`), or undefined. */
export function redisWritesProblem(writes: unknown): string | undefined {
  if (!Array.isArray(writes)) return `the writes must be an array of RedisWrite, got ${describe(writes)}`;
  for (let i = 0; i < writes.length; i++) {
    const problem = redisWriteProblem(writes[i]);
    if (problem !== undefined) return `writes[${i}]: ${problem}`;
  }
  return undefined;
}

/** What is wrong with an output of `redisCounterSink`: a field, or a `[field, increment]` pair. */
export function counterOutputProblem(output: unknown): string | undefined {
  if (!Array.isArray(output)) {
    return isRedisValue(output) ? undefined : `not a field (${mustBe.value}) or a [field, increment] pair: got ${describe(output)}`;
  }
  if (output.length !== 2) return `a [field, increment] pair must have 2 elements, got ${describe(output)}`;
  const [field, by] = output as unknown[];
  return valueProblem('the field', field) ?? incrementProblem('the increment', by);
}

const isBytes = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v);

/** What is wrong with an output of `kafkaSink` (`{ topic?, key?, value, partition?, headers? }`); `defaultTopic` stands in for a missing topic. */
export function kafkaOutputProblem(output: unknown, defaultTopic: string | undefined): string | undefined {
  if (typeof output !== 'object' || output === null || Array.isArray(output) || Buffer.isBuffer(output))
    return `not a record object ({ topic?, key?, value, partition?, headers? }): got ${describe(output)}`;
  const o = output as Record<string, unknown>;
  if (o.topic === undefined ? defaultTopic === undefined : typeof o.topic !== 'string' || o.topic === '')
    return `topic must be a non-empty string (the sink has no default topic), got ${describe(o.topic)}`;
  if (o.value !== null && !isBytes(o.value)) return `value must be a string, Buffer or null, got ${describe(o.value)}`;
  if (o.key !== undefined && o.key !== null && !isBytes(o.key)) return `key must be a string, Buffer or null, got ${describe(o.key)}`;
  if (o.partition !== undefined && !(Number.isSafeInteger(o.partition) && (o.partition as number) >= 0))
    return `partition must be a non-negative integer, got ${describe(o.partition)}`;
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || o.headers === null || Array.isArray(o.headers))
      return `headers must be an object of strings or Buffers, got ${describe(o.headers)}`;
    for (const [name, v] of Object.entries(o.headers))
      if (!isBytes(v)) return `headers.${name} must be a string or Buffer, got ${describe(v)}`;
  }
  return undefined;
}

/**
 * The outputs of one `process` call as an array, each accepted by the sink's `validate`.
 * `process` must return an iterable of outputs (an array, Set, Map, generator) or nothing.
 * @throws InvalidOutputError naming the first bad output (`outputs[2]: ...`) and what is wrong with it.
 */
export function sinkOutputs(result: unknown, sink: Sink<unknown>): unknown[] {
  let outputs: unknown[];
  if (result === undefined || result === null) outputs = [];
  else if (Array.isArray(result)) outputs = result as unknown[];
  else if (typeof result === 'object' && typeof (result as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function')
    outputs = Array.from(result as Iterable<unknown>);
  // A string is iterable too, but as characters: returned in place of [string], it would count letters.
  else
    throw new InvalidOutputError(
      `process must return an iterable of outputs (an array, Set, Map, generator) or nothing, got ${describe(result)}`
    );
  if (sink.validate) {
    for (let i = 0; i < outputs.length; i++) {
      const problem = sink.validate(outputs[i]);
      if (problem !== undefined) throw new InvalidOutputError(`outputs[${i}]: ${problem}`);
    }
  }
  return outputs;
}
