import pino from 'pino';
import { isSluiceError } from '../../errors';
import { idempotentSink, redisCounterSink, redisSink } from '../../sinks/redis-sinks';
import { defineJob, isJob } from '../define-job';
import type { ChunkCommitter, CommitOutcome, JobDefinition, ProcessContext, RedisWrite } from '../types';

const context: ProcessContext = {
  job: 'unit-job',
  batchId: 7,
  topic: 'orders',
  partition: 2,
  fromOffset: 100n,
  untilOffset: 150n,
  attempt: 1,
  logger: pino({ level: 'silent' }),
};

/** A committer that records every `commit` call and answers with `outcome`. */
class FakeCommitter implements ChunkCommitter {
  readonly context = context;
  readonly commits: RedisWrite[][] = [];
  constructor(
    private readonly outcome: CommitOutcome = { status: 'committed' },
    private readonly events: string[] = []
  ) {}

  commit(writes: RedisWrite[]): Promise<CommitOutcome> {
    this.events.push('commit');
    this.commits.push(writes);
    return Promise.resolve(this.outcome);
  }
}

const valid = (): JobDefinition<string | [string, number]> => ({
  name: 'word-count_v1.2',
  source: { topics: ['lines'], startingOffsets: 'earliest' },
  batch: { intervalMs: 500, maxRatePerPartition: 100 },
  process: (records) => records.map((r) => String(r.value)),
  sink: redisCounterSink({ key: 'counts' }),
});

/** The JobError that `defineJob(definition)` throws (failing if it does not throw). */
function jobError(definition: unknown): string {
  try {
    defineJob(definition as JobDefinition<unknown>);
  } catch (e) {
    expect(isSluiceError(e)).toBe(true);
    expect((e as Error).name).toBe('JobError');
    expect((e as { code: string }).code).toBe('SLUICE_JOB_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected defineJob to throw');
}

describe('defineJob', () => {
  it('returns the definition, frozen and branded as a job', () => {
    const definition = valid();
    const job = defineJob(definition);
    expect(job).toEqual({ ...definition, __sluiceJob: true });
    expect(job.sink).toBe(definition.sink);
    expect(Object.isFrozen(job)).toBe(true);
    expect(isJob(job)).toBe(true);
    expect(isJob(definition)).toBe(false);
    expect(isJob(null)).toBe(false);
    expect(isJob({ __sluiceJob: 'yes' })).toBe(false);
  });

  it('accepts the smallest job: name, topics, process and sink', () => {
    const job = defineJob({ name: 'j', source: { topics: ['t'] }, process: () => undefined, sink: redisSink() });
    expect(job.name).toBe('j');
    expect(job.batch).toBeUndefined();
  });

  it('accepts a pattern, an assignment, a timestamp as starting offsets and failOnDataLoss', () => {
    const base = { name: 'j', process: () => undefined, sink: redisSink() };
    expect(defineJob({ ...base, source: { pattern: '^orders-.*', failOnDataLoss: false } }).source.pattern).toBe('^orders-.*');
    expect(defineJob({ ...base, source: { assign: { t: [0, 2] } } }).source.assign).toEqual({ t: [0, 2] });
    expect(defineJob({ ...base, source: { topics: ['t'], startingOffsets: { timestamp: 1700000000000 } } }).source.startingOffsets).toEqual(
      {
        timestamp: 1700000000000,
      }
    );
  });

  it.each<[string, (d: Record<string, unknown>) => unknown, string]>([
    ['no subscription', (d) => ({ ...d, source: { startingOffsets: 'earliest' } }), "'source' needs one of topics, pattern or assign"],
    [
      'two subscriptions',
      (d) => ({ ...d, source: { topics: ['t'], pattern: 't.*' } }),
      "'source.pattern' cannot be combined with source.topics: give exactly one of topics, pattern, assign",
    ],
    ['a pattern that does not compile', (d) => ({ ...d, source: { pattern: 'a[' } }), "'source.pattern' is not a valid regular expression"],
    [
      'assign without partitions',
      (d) => ({ ...d, source: { assign: { t: [] } } }),
      "'source.assign.t' Too small: expected array to have >=1 items",
    ],
    [
      'failOnDataLoss not a boolean',
      (d) => ({ ...d, source: { topics: ['t'], failOnDataLoss: 'no' } }),
      "'source.failOnDataLoss' Invalid input: expected boolean, received string",
    ],
    ['empty topics', (d) => ({ ...d, source: { topics: [] } }), "'source.topics' Too small: expected array to have >=1 items"],
    [
      'an empty topic name',
      (d) => ({ ...d, source: { topics: ['ok', ''] } }),
      "'source.topics.1' Too small: expected string to have >=1 characters",
    ],
    ['missing source', (d) => ({ ...d, source: undefined }), "'source' Invalid input: expected object, received undefined"],
    ['bad name', (d) => ({ ...d, name: 'word count' }), "'name' letters, digits, dot, dash and underscore only"],
    [
      'name with a brace (would break the Redis hash tag)',
      (d) => ({ ...d, name: 'a}b' }),
      "'name' letters, digits, dot, dash and underscore only",
    ],
    ['a name of 201 characters', (d) => ({ ...d, name: 'j'.repeat(201) }), "'name' Too big: expected string to have <=200 characters"],
    ['process not a function', (d) => ({ ...d, process: 'records => records' }), "'process' must be a function"],
    ['process missing', (d) => ({ ...d, process: undefined }), "'process' must be a function"],
    [
      'sink missing',
      (d) => ({ ...d, sink: undefined }),
      "'sink' must be a sink (e.g. redisSink(), redisCounterSink({ key }), idempotentSink({ write }))",
    ],
    [
      'sink without commit',
      (d) => ({ ...d, sink: { kind: 'mine', guarantee: 'exactly-once' } }),
      "'sink' must be a sink (e.g. redisSink(), redisCounterSink({ key }), idempotentSink({ write }))",
    ],
    [
      'bad startingOffsets',
      (d) => ({ ...d, source: { topics: ['t'], startingOffsets: 'beginning' } }),
      `'source.startingOffsets' expected 'earliest', 'latest', {"timestamp": ms} or {"topic": {"partition": offset}}`,
    ],
    ['negative batch interval', (d) => ({ ...d, batch: { intervalMs: -1 } }), "'batch.intervalMs' Too small: expected number to be >0"],
    ['unknown top-level key', (d) => ({ ...d, sinks: [] }), 'unknown key(s) sinks'],
  ])('%s: JobError naming the key', (_name, change, problem) => {
    expect(jobError(change(valid() as unknown as Record<string, unknown>))).toBe(`[SLUICE_JOB_INVALID] invalid job definition: ${problem}`);
  });

  it('names every problem at once', () => {
    expect(jobError({ name: '', source: { topics: ['t'] }, process: 1, sink: {} })).toBe(
      "[SLUICE_JOB_INVALID] invalid job definition: 'name' Too small: expected string to have >=1 characters; 'process' must be a function; " +
        "'sink' must be a sink (e.g. redisSink(), redisCounterSink({ key }), idempotentSink({ write }))"
    );
  });

  it("names an unknown nested key (today without its parent path 'source.', unlike loadConfig's 'driver.bogus')", () => {
    expect(jobError({ ...valid(), source: { topics: ['t'], startingOffset: 'earliest' } })).toBe(
      '[SLUICE_JOB_INVALID] invalid job definition: unknown key(s) source.startingOffset'
    );
  });
});

describe('redisCounterSink', () => {
  it('is an exactly-once sink', () => {
    const sink = redisCounterSink({ key: 'counts' });
    expect(sink.kind).toBe('redis-counter');
    expect(sink.guarantee).toBe('exactly-once');
  });

  it('commits one hincrby per distinct field, summing names (1 each) and [field, by] pairs, in first-seen order', async () => {
    const committer = new FakeCommitter();
    const outcome = await redisCounterSink({ key: 'counts' }).commit(
      ['a', 'b', 'a', ['c', 5], ['a', 2], 'c', ['b', -1], ['z', 0]],
      committer
    );
    expect(outcome).toEqual({ status: 'committed' });
    expect(committer.commits).toEqual([
      [
        { op: 'hincrby', key: 'counts', field: 'a', by: 4 },
        { op: 'hincrby', key: 'counts', field: 'b', by: 0 },
        { op: 'hincrby', key: 'counts', field: 'c', by: 6 },
        { op: 'hincrby', key: 'counts', field: 'z', by: 0 },
      ],
    ]);
  });

  it('still commits (advancing the offset) when the chunk has no outputs', async () => {
    const committer = new FakeCommitter();
    await redisCounterSink({ key: 'counts' }).commit([], committer);
    expect(committer.commits).toEqual([[]]);
  });

  it('returns the committer outcome when another attempt already committed', async () => {
    const skipped: CommitOutcome = { status: 'skipped', storedOffset: 150n };
    const committer = new FakeCommitter(skipped);
    expect(await redisCounterSink({ key: 'k' }).commit(['x'], committer)).toBe(skipped);
    expect(committer.commits).toEqual([[{ op: 'hincrby', key: 'k', field: 'x', by: 1 }]]);
  });
});

describe('redisSink', () => {
  it('passes the writes through unchanged, in one commit', async () => {
    const committer = new FakeCommitter();
    const writes: RedisWrite[] = [
      { op: 'set', key: 'last', value: '42' },
      { op: 'rpush', key: 'log', value: 'x' },
      { op: 'hincrby', key: 'h', field: 'f', by: 2 },
    ];
    const sink = redisSink();
    expect(sink.guarantee).toBe('exactly-once');
    expect(await sink.commit(writes, committer)).toEqual({ status: 'committed' });
    expect(committer.commits).toEqual([writes]);
  });
});

describe('idempotentSink', () => {
  it('is an at-least-once sink', () => {
    const sink = idempotentSink({ write: () => undefined });
    expect(sink.kind).toBe('idempotent');
    expect(sink.guarantee).toBe('at-least-once');
  });

  it('calls write with the outputs and the chunk context, then commits with no writes', async () => {
    const events: string[] = [];
    const seen: Array<[number[], ProcessContext]> = [];
    const committer = new FakeCommitter({ status: 'committed' }, events);
    const sink = idempotentSink<number>({
      write: async (outputs, ctx) => {
        events.push('write started');
        seen.push([outputs, ctx]);
        await Promise.resolve();
        events.push('write resolved');
      },
    });
    expect(await sink.commit([1, 2, 3], committer)).toEqual({ status: 'committed' });
    expect(events).toEqual(['write started', 'write resolved', 'commit']);
    expect(seen).toEqual([[[1, 2, 3], context]]);
    expect(seen[0]?.[1]).toBe(context);
    expect(committer.commits).toEqual([[]]);
  });

  it('accepts a synchronous write', async () => {
    const committer = new FakeCommitter();
    const write = jest.fn();
    await idempotentSink({ write }).commit(['a'], committer);
    expect(write).toHaveBeenCalledWith(['a'], context);
    expect(committer.commits).toEqual([[]]);
  });

  it.each([
    ['rejects', (): Promise<void> => Promise.reject(new Error('store down'))],
    [
      'throws synchronously',
      (): void => {
        throw new Error('store down');
      },
    ],
  ])('does not commit when write %s, and passes the error on', async (_how, write) => {
    const committer = new FakeCommitter();
    await expect(idempotentSink({ write }).commit(['a'], committer)).rejects.toThrow('store down');
    expect(committer.commits).toEqual([]);
  });
});
