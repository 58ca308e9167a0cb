import { InvalidOutputError, JobError } from '../../errors';
import type { RedisWrite } from '../../job/types';
import { sinkOutputs } from '../outputs';
import { idempotentSink, redisCounterSink, redisSink } from '../redis-sinks';

/** One valid write per op of redisSink, the base of the malformed variants below. */
const validWrites: RedisWrite[] = [
  { op: 'hincrby', key: 'k', field: 'f', by: 1 },
  { op: 'incrby', key: 'k', by: -2 },
  { op: 'hset', key: 'k', field: 'f', value: 'v' },
  { op: 'set', key: 'k', value: 'v' },
  { op: 'sadd', key: 'k', member: 'm' },
  { op: 'rpush', key: 'k', value: 'v' },
];
const valueFields = ['field', 'value', 'member'];
const fn = (): number => 1;

/** For every op: the key and each of its fields missing, of the wrong type, or (increments) not integers. */
const malformedWrites: Array<[string, unknown, string]> = validWrites.flatMap((valid) => {
  const { op, key: _key, ...fields } = valid as RedisWrite & Record<string, unknown>;
  const cases: Array<[string, unknown, string]> = [
    [`${op}: no key`, { ...valid, key: undefined }, 'key must be a non-empty string, got undefined'],
    [`${op}: an empty key`, { ...valid, key: '' }, 'key must be a non-empty string, got an empty string'],
    [`${op}: an object as key`, { ...valid, key: { name: 'k' } }, 'key must be a non-empty string, got object'],
  ];
  for (const field of Object.keys(fields)) {
    if (valueFields.includes(field)) {
      const must = `${field} must be a string, number or Buffer, got`;
      cases.push(
        [`${op}: no ${field}`, { ...valid, [field]: undefined }, `${must} undefined`],
        [`${op}: null ${field}`, { ...valid, [field]: null }, `${must} null`],
        [`${op}: an object as ${field}`, { ...valid, [field]: { a: 1 } }, `${must} object`],
        [`${op}: an array as ${field}`, { ...valid, [field]: ['a'] }, `${must} an array of 1`],
        [`${op}: a function as ${field}`, { ...valid, [field]: fn }, `${must} function`],
        [`${op}: NaN as ${field}`, { ...valid, [field]: NaN }, `${must} NaN`],
        [`${op}: a boolean as ${field}`, { ...valid, [field]: true }, `${must} true`]
      );
    } else {
      const must = `${field} must be an integer (Number.isSafeInteger), got`;
      cases.push(
        [`${op}: no ${field}`, { ...valid, [field]: undefined }, `${must} undefined`],
        [`${op}: a fraction as ${field}`, { ...valid, [field]: 1.5 }, `${must} 1.5`],
        [`${op}: a string as ${field}`, { ...valid, [field]: '1' }, `${must} "1"`],
        [`${op}: beyond 2^53 as ${field}`, { ...valid, [field]: 2 ** 60 }, `${must} ${2 ** 60}`],
        [`${op}: a bigint as ${field}`, { ...valid, [field]: 1n }, `${must} 1n`]
      );
    }
  }
  return cases;
});

const ops = 'hincrby, incrby, hset, set, sadd, rpush';
const notAWrite = 'not a RedisWrite object ({ op, key, ... }): got';

describe('redisSink outputs', () => {
  const sink = redisSink();

  it.each<[string, unknown, string]>([
    ['null', null, `${notAWrite} null`],
    ['undefined', undefined, `${notAWrite} undefined`],
    ['a string', 'hincrby k f 1', `${notAWrite} "hincrby k f 1"`],
    ['a number', 7, `${notAWrite} 7`],
    ['a function', fn, `${notAWrite} function`],
    ['an array', ['hincrby', 'k', 'f', 1], `${notAWrite} an array of 4`],
    ['a Buffer', Buffer.from('x'), `${notAWrite} a Buffer`],
    ['an unknown op', { op: 'bogus', key: 'k', value: 'v' }, `op must be one of ${ops}, got "bogus"`],
    ['an op in capitals', { op: 'HSET', key: 'k', field: 'f', value: 'v' }, `op must be one of ${ops}, got "HSET"`],
    ["an inherited name as op ('toString')", { op: 'toString', key: 'k' }, `op must be one of ${ops}, got "toString"`],
    ['no op', { key: 'k', value: 'v' }, `op must be one of ${ops}, got undefined`],
    ...malformedWrites,
  ])('refuses %s, naming the field', (_, output, problem) => {
    expect(sink.validate?.(output)).toBe(problem);
    expect(() => sinkOutputs([validWrites[0], output], sink)).toThrow(new InvalidOutputError(`outputs[1]: ${problem}`));
  });

  it('accepts every op with strings, finite numbers and Buffers as values, and extra properties', () => {
    const variants: unknown[] = [
      ...validWrites,
      { op: 'hset', key: 'k', field: 3, value: -0.5 },
      { op: 'set', key: 'k', value: Buffer.from([0, 255]) },
      { op: 'sadd', key: 'k', member: '' },
      { op: 'rpush', key: 'k', value: 'v', note: 'ignored' },
      { op: 'incrby', key: 'k', by: Number.MAX_SAFE_INTEGER },
    ];
    for (const w of variants) expect(sink.validate?.(w)).toBeUndefined();
    expect(sinkOutputs(variants, sink)).toEqual(variants);
  });
});

describe('redisCounterSink outputs', () => {
  const sink = redisCounterSink({ key: 'counts' });
  const notAField = 'not a field (a string, number or Buffer) or a [field, increment] pair: got';

  it.each<[string, unknown, string]>([
    ['null', null, `${notAField} null`],
    ['undefined', undefined, `${notAField} undefined`],
    ['a function', fn, `${notAField} function`],
    ['an object', { field: 'f' }, `${notAField} object`],
    ['a RedisWrite', { op: 'hincrby', key: 'k', field: 'f', by: 1 }, `${notAField} object`],
    ['NaN', NaN, `${notAField} NaN`],
    ['a single-element array', ['f'], 'a [field, increment] pair must have 2 elements, got an array of 1'],
    ['a triple', ['f', 1, 2], 'a [field, increment] pair must have 2 elements, got an array of 3'],
    ['an object as the field', [{ a: 1 }, 1], 'the field must be a string, number or Buffer, got object'],
    ['no field', [undefined, 1], 'the field must be a string, number or Buffer, got undefined'],
    ['a fractional increment', ['f', 0.5], 'the increment must be an integer (Number.isSafeInteger), got 0.5'],
    ['a string increment', ['f', '2'], 'the increment must be an integer (Number.isSafeInteger), got "2"'],
    ['no increment', ['f', undefined], 'the increment must be an integer (Number.isSafeInteger), got undefined'],
  ])('refuses %s, naming the field', (_, output, problem) => {
    expect(sink.validate?.(output)).toBe(problem);
    expect(() => sinkOutputs(['ok', output], sink)).toThrow(new InvalidOutputError(`outputs[1]: ${problem}`));
  });

  it('accepts fields (strings, numbers, Buffers, the empty string) and [field, integer] pairs', () => {
    const outputs: unknown[] = ['word', '', 7, Buffer.from('b'), ['w', 3], ['w', -1], [Buffer.from('b'), 0]];
    expect(sinkOutputs(outputs, sink)).toEqual(outputs);
  });

  it('refuses a missing or empty key when the job module loads', () => {
    expect(() => redisCounterSink({ key: '' })).toThrow(
      new JobError('redisCounterSink: options.key must be a non-empty string, got an empty string')
    );
    expect(() => redisCounterSink({} as { key: string })).toThrow(
      new JobError('redisCounterSink: options.key must be a non-empty string, got undefined')
    );
  });
});

describe('sinkOutputs: what process returns', () => {
  const sink = redisCounterSink({ key: 'counts' });

  it('takes nothing, arrays, Sets, Maps and generators', () => {
    function* generate(): Generator<string> {
      yield 'g';
    }
    expect(sinkOutputs(undefined, sink)).toEqual([]);
    expect(sinkOutputs(null, sink)).toEqual([]);
    expect(sinkOutputs(['a'], sink)).toEqual(['a']);
    expect(sinkOutputs(new Set(['s']), sink)).toEqual(['s']);
    expect(sinkOutputs(new Map([['m', 2]]), sink)).toEqual([['m', 2]]);
    expect(sinkOutputs(generate(), sink)).toEqual(['g']);
  });

  it.each<[string, unknown, string]>([
    ['a string (would be counted letter by letter)', 'word', '"word"'],
    ['a number', 0, '0'],
    ['false', false, 'false'],
    ['a plain object', { word: 1 }, 'object'],
  ])('refuses %s', (_, result, got) => {
    expect(() => sinkOutputs(result, sink)).toThrow(
      new InvalidOutputError(`process must return an iterable of outputs (an array, Set, Map, generator) or nothing, got ${got}`)
    );
  });

  it('names the first invalid output by its index', () => {
    expect(() => sinkOutputs(['a', 'b', null, {}], sink)).toThrow(
      new InvalidOutputError('outputs[2]: not a field (a string, number or Buffer) or a [field, increment] pair: got null')
    );
  });

  it('leaves the outputs of a sink without validate unchecked (idempotentSink takes anything)', () => {
    const anything = [null, { a: 1 }, fn];
    expect(sinkOutputs(anything, idempotentSink({ write: () => undefined }))).toEqual(anything);
  });
});
