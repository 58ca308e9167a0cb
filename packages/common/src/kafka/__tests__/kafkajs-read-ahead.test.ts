import pino from 'pino';

import { createKafkajsRangeReader } from '../kafkajs/range-reader';
import type { OffsetRange, RangeReader, SourceRecord } from '../types';
import { FakeLog, fakeLogReaderConfig as config, range, transactionalLog, type FakeBatch, type FakeLogOptions } from './kafkajs-fake-log';

const logger = pino({ level: 'silent' });
const offsets = (records: SourceRecord[]): number[] => records.map((r) => Number(r.offset));

/** One record per batch, offsets [0, n): a backlog produced one record at a time. */
function oneRecordBatches(n: number): FakeBatch[] {
  return Array.from({ length: n }, (_, o) => ({ firstOffset: o, records: [{ offset: o }] }));
}

/** A reader with read-ahead over `log`; `taskFetches` lists the offsets its tasks fetched themselves. */
function readerOver(log: FakeLog): { reader: RangeReader; taskFetches: number[] } {
  const taskFetches: number[] = [];
  const reader = createKafkajsRangeReader(config, 1, logger, {
    createCluster: () => log.cluster(),
    maxEmptyPolls: 2,
    readAhead: { maxRangeRecords: 100 },
    onFetch: (_tp, fetchOffset) => taskFetches.push(Number(fetchOffset)),
  });
  return { reader, taskFetches };
}

/** Reads `r` and reports it committed, as a task does. */
async function drain(reader: RangeReader, r: OffsetRange, freshConnection = false): Promise<number[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of reader.read(r, { freshConnection })) out.push(...chunk);
  reader.committed?.(r);
  return offsets(out);
}

/** Resolves once `condition` holds, checking after every turn of the event loop (fails the test after 5 s). */
async function eventually(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('kafkajs range reader with read-ahead (fake broker)', () => {
  let reader: RangeReader | undefined;
  afterEach(async () => {
    await reader?.close();
    reader = undefined;
  });

  function start(options: FakeLogOptions): { log: FakeLog; taskFetches: number[] } {
    const log = new FakeLog(options);
    const made = readerOver(log);
    reader = made.reader;
    return { log, taskFetches: made.taskFetches };
  }

  it("reads a partition's next range from memory: exactly its records, no Fetch on the task's path", async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(20) });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    // The read-ahead Fetch starts where the range ended.
    await eventually(() => log.fetches.length === 2);
    expect(log.fetches).toEqual([0, 2]);
    expect(await drain(r, range(2, 4))).toEqual([2, 3]);
    expect(taskFetches).toEqual([0]);
    // And again from the end of that range.
    await eventually(() => log.fetches.length === 3);
    expect(await drain(r, range(4, 5))).toEqual([4]);
    expect(taskFetches).toEqual([0]);
  });

  it('holds about twice the last range, not the whole backlog', async () => {
    const { log } = start({ batches: oneRecordBatches(1000), byteLimits: true });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    expect(await drain(r, range(2, 4))).toEqual([2, 3]);
    await eventually(() => log.fetches.length >= 3);
    // Every read-ahead Fetch after the first asks for a few small batches, far below partitionMaxBytes.
    for (const limit of log.fetchLimits.slice(1)) expect(limit).toBeLessThan(1000);
  });

  it('holds nothing for a range read but not committed', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { log, taskFetches } = start({ batches: oneRecordBatches(20) });
      const r = reader as RangeReader;
      for await (const chunk of r.read(range(0, 2))) expect(offsets(chunk)).toEqual([0, 1]);
      // Long past the delay after a commit: nothing was fetched ahead at 2.
      await jest.advanceTimersByTimeAsync(1000);
      expect(log.fetches).toEqual([0]);
      // Its commit failed, say: the next task reads [0, 2) again, and commits.
      expect(await drain(r, range(0, 2))).toEqual([0, 1]);
      await jest.advanceTimersByTimeAsync(1000);
      await eventually(() => log.fetches.length === 3);
      expect(log.fetches).toEqual([0, 0, 2]);
      expect(await drain(r, range(2, 4))).toEqual([2, 3]);
      expect(taskFetches).toEqual([0, 0]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not follow a partition whose range was longer than maxRangeRecords', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { log, taskFetches } = start({ batches: oneRecordBatches(300) });
      const r = reader as RangeReader;
      expect(await drain(r, range(0, 150))).toHaveLength(150);
      // Long past the delay after a commit: had the partition been followed, it was fetched at 150.
      await jest.advanceTimersByTimeAsync(1000);
      expect(log.fetches).toEqual([0]);
      // A short range is followed.
      expect(await drain(r, range(150, 152))).toEqual([150, 151]);
      await jest.advanceTimersByTimeAsync(1000);
      await eventually(() => log.fetches.length === 3);
      expect(log.fetches).toEqual([0, 150, 152]);
      expect(await drain(r, range(152, 154))).toEqual([152, 153]);
      expect(taskFetches).toEqual([0, 150]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reads a range that starts elsewhere itself, and follows the partition from its end', async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(20) });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    await eventually(() => log.fetches.length === 2);
    // A replay from another offset: what was held at 2 is not used.
    expect(await drain(r, range(7, 9))).toEqual([7, 8]);
    expect(taskFetches).toEqual([0, 7]);
    await eventually(() => log.fetches.includes(9));
    expect(await drain(r, range(9, 11))).toEqual([9, 10]);
    expect(taskFetches).toEqual([0, 7]);
  });

  it('a range longer than what is held gets the held records first, then fetches from where they end', async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(40) });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    // Holds twice the last range: [2, 6).
    await eventually(() => log.fetches.length === 2);
    expect(await drain(r, range(2, 30))).toEqual(Array.from({ length: 28 }, (_, i) => 2 + i));
    expect(taskFetches).toEqual([0, 6]);
  });

  it('a retry (fresh connection) reads afresh', async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(20) });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    await eventually(() => log.fetches.length === 2);
    expect(await drain(r, range(2, 4), true)).toEqual([2, 3]);
    expect(taskFetches).toEqual([0, 2]);
  });

  it('under read_committed never hands out aborted records or markers', async () => {
    const { log, taskFetches } = start(transactionalLog);
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 4))).toEqual([0, 1, 2]);
    // Past the end of the log it keeps polling (held: [4, 8), less than twice the range).
    await eventually(() => log.fetches.length >= 2);
    expect(await drain(r, range(4, 8))).toEqual([7]);
    expect(taskFetches).toEqual([0]);
  });

  it('a failed read-ahead Fetch leaves the partition to its task', async () => {
    const failures: Array<'NOT_LEADER_FOR_PARTITION'> = [];
    const { log, taskFetches } = start({ batches: oneRecordBatches(20), failures });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    await eventually(() => log.fetches.length === 2);
    // The next read-ahead Fetch (at 4) fails.
    failures.push('NOT_LEADER_FOR_PARTITION');
    expect(await drain(r, range(2, 4))).toEqual([2, 3]);
    await eventually(() => log.fetches.length === 3 && failures.length === 0);
    expect(await drain(r, range(4, 6))).toEqual([4, 5]);
    expect(taskFetches).toEqual([0, 4]);
  });

  it('a commit while the read-ahead prepares its Fetch (shrinking the window) never leads to a record twice', async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(100) });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 10))).toHaveLength(10);
    // Holds [10, 30): twice the range.
    await eventually(() => log.fetches.length === 2);
    expect(await drain(r, range(10, 25))).toHaveLength(15);
    // Now it wants more (5 held, window 30): its next Fetch waits on a metadata refresh...
    const refresh = log.holdNextRefresh();
    await refresh.reached;
    // ...while a one-record range commits: window 2, and 4 records are held already.
    expect(await drain(r, range(25, 26))).toEqual([25]);
    refresh.release();
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(await drain(r, range(26, 30))).toEqual([26, 27, 28, 29]);
    expect(taskFetches).toEqual([0]);
  });

  it('a task waits for a read-ahead Fetch that hangs at most fetchMaxWaitMs, then reads itself', async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(20) });
    const r = reader as RangeReader;
    expect(await drain(r, range(0, 2))).toEqual([0, 1]);
    const release = log.holdNextFetch();
    await eventually(() => log.fetches.length === 2);
    expect(await drain(r, range(2, 4))).toEqual([2, 3]);
    expect(taskFetches).toEqual([0, 2]);
    release();
  });

  it('serves a group read (readAll) from memory too', async () => {
    const { log, taskFetches } = start({ batches: oneRecordBatches(20) });
    const r = reader as RangeReader & Required<Pick<RangeReader, 'readAll'>>;
    expect(offsets((await r.readAll([range(0, 2)])).get('t:0') ?? [])).toEqual([0, 1]);
    r.committed?.(range(0, 2));
    await eventually(() => log.fetches.length === 2);
    expect(offsets((await r.readAll([range(2, 4)])).get('t:0') ?? [])).toEqual([2, 3]);
    expect(taskFetches).toEqual([0]);
  });
});
