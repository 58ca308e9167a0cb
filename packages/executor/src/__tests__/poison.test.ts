import {
  createLogger,
  defineJob,
  redisCounterSink,
  redisSink,
  type DeadLetter,
  type ProcessContext,
  type RedisWrite,
  type SourceRecord,
} from '@sluice/common';
import { processChunk, type PoisonSettings } from '../poison';

const record = (offset: number, value: string): SourceRecord => ({
  topic: 't',
  partition: 0,
  offset: BigInt(offset),
  timestamp: 0n,
  key: null,
  value: Buffer.from(value),
  headers: [],
});
const records = ['a', 'bad', 'c', 'bad', 'e'].map((v, i) => record(10 + i, v));
const context = (attempt: number): ProcessContext => ({
  job: 'j',
  batchId: 1,
  topic: 't',
  partition: 0,
  fromOffset: 10n,
  untilOffset: 15n,
  attempt,
  logger: createLogger('silent'),
});
const job = defineJob({
  name: 'j',
  source: { topics: ['t'] },
  process: (rs: SourceRecord[]) =>
    rs.map((r) => {
      const v = String(r.value);
      if (v === 'bad') throw new Error(`bad at ${r.offset}`);
      return v;
    }),
  sink: redisCounterSink({ key: 'k' }),
});

function settings(policy: PoisonSettings['policy'], maxRecordBytes = 0): { s: PoisonSettings; letters: DeadLetter[] } {
  const letters: DeadLetter[] = [];
  return { letters, s: { policy, maxAttempts: 2, maxRecordBytes, deadLetter: (l) => Promise.resolve(void letters.push(...l)) } };
}

describe('processChunk', () => {
  it('fail: names the first poison offset', async () => {
    const { s, letters } = settings('fail');
    await expect(processChunk(job, records, context(5), s)).rejects.toThrow(
      /process failed on t-0 at offset 11 \(chunk \[10, 15\)\): bad at 11/
    );
    expect(letters).toEqual([]);
  });

  it('dead-letter: fails below the attempt limit, isolates at it', async () => {
    const { s, letters } = settings('dead-letter');
    await expect(processChunk(job, records, context(0), s)).rejects.toThrow(/at offset 11/);
    const { outputs, deadLettered } = await processChunk(job, records, context(1), s);
    expect(outputs).toEqual(['a', 'c', 'e']);
    expect(deadLettered).toBe(2);
    expect(letters.map((l) => [l.offset, l.reason, l.attempts, l.error])).toEqual([
      ['11', 'process', 2, 'bad at 11'],
      ['13', 'process', 2, 'bad at 13'],
    ]);
  });

  it('oversized records are dead-lettered at once under dead-letter and fail the chunk under fail', async () => {
    const input = [record(1, 'ok'), record(2, 'x'.repeat(50))];
    const dl = settings('dead-letter', 10);
    expect((await processChunk(job, input, context(0), dl.s)).outputs).toEqual(['ok']);
    expect(dl.letters.map((l) => [l.offset, l.reason])).toEqual([['2', 'oversized']]);
    const fail = settings('fail', 10);
    await expect(processChunk(job, input, context(0), fail.s)).rejects.toMatchObject({ retriable: false });
  });

  describe('outputs the sink cannot commit', () => {
    // Record 'bad' gives a hash field that is an object: Redis would store it as "[object Object]".
    const malformed = defineJob({
      name: 'j',
      source: { topics: ['t'] },
      process: (rs: SourceRecord[]): RedisWrite[] =>
        rs.map((r) => {
          const v = String(r.value);
          return { op: 'hincrby', key: 'k', field: v === 'bad' ? ({ v } as unknown as string) : v, by: 1 };
        }),
      sink: redisSink(),
    });

    it('fail: names the offset of the first record with one, and the field', async () => {
      const { s, letters } = settings('fail');
      await expect(processChunk(malformed, records, context(5), s)).rejects.toMatchObject({
        code: 'SLUICE_PROCESS_FAILED',
        retriable: true,
        message:
          "[SLUICE_PROCESS_FAILED] job 'j' process returned an invalid output on t-0 at offset 11 (chunk [10, 15)): " +
          'outputs[0]: field must be a string, number or Buffer, got object',
        details: { topic: 't', partition: 0, offset: '11', from: '10', until: '15' },
      });
      expect(letters).toEqual([]);
    });

    it('dead-letter: dead-letters exactly those records (reason output) at the attempt limit, the others commit', async () => {
      const { s, letters } = settings('dead-letter');
      await expect(processChunk(malformed, records, context(0), s)).rejects.toThrow(/invalid output on t-0 at offset 11/);
      const { outputs, deadLettered } = await processChunk(malformed, records, context(1), s);
      expect(outputs).toEqual(['a', 'c', 'e'].map((field) => ({ op: 'hincrby', key: 'k', field, by: 1 })));
      expect(deadLettered).toBe(2);
      const problem = 'outputs[0]: field must be a string, number or Buffer, got object';
      expect(letters.map((l) => [l.offset, l.reason, l.error])).toEqual([
        ['11', 'output', problem],
        ['13', 'output', problem],
      ]);
    });

    it('a chunk whose outputs are refused although no single record gives a bad one is named as the chunk', async () => {
      const aggregate = defineJob({
        name: 'j',
        source: { topics: ['t'] },
        process: (rs: SourceRecord[]) => (rs.length > 1 ? [null as unknown as RedisWrite] : []),
        sink: redisSink(),
      });
      await expect(processChunk(aggregate, records, context(0), settings('fail').s)).rejects.toThrow(
        "job 'j' process returned an invalid output on t-0 chunk [10, 15) (no single record fails alone): " +
          'outputs[0]: not a RedisWrite object ({ op, key, ... }): got null'
      );
    });
  });
});
