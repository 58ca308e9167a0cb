import { createLogger, defineJob, redisCounterSink, type DeadLetter, type ProcessContext, type SourceRecord } from '@sluice/common';
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
});
