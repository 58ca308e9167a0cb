import pino from 'pino';

import { DataLossError, RangeNotVisibleError } from '../../errors';
import { partitionFetchBytes } from '../kafkajs/fetch-sizing';
import { createKafkajsRangeReader } from '../kafkajs/range-reader';
import type { OffsetRange, SourceRecord } from '../types';
import { FakeLog, fakeLogReaderConfig as config, range, transactionalLog, type FakeBatch, type FakeLogOptions } from './kafkajs-fake-log';

const logger = pino({ level: 'silent' });

async function readAll(log: FakeLog, r: OffsetRange, freshConnection = false): Promise<SourceRecord[]> {
  const reader = createKafkajsRangeReader(config, 1, logger, { createCluster: () => log.cluster(), maxEmptyPolls: 2 });
  try {
    const out: SourceRecord[] = [];
    for await (const chunk of reader.read(r, { freshConnection })) out.push(...chunk);
    return out;
  } finally {
    await reader.close();
  }
}

const offsets = (records: SourceRecord[]): number[] => records.map((r) => Number(r.offset));

/** Plain batches of `size` consecutive records covering [0, n). */
function plain(n: number, size: number): FakeBatch[] {
  const batches: FakeBatch[] = [];
  for (let first = 0; first < n; first += size) {
    const records = [];
    for (let o = first; o < Math.min(n, first + size); o++) records.push({ offset: o, key: `k${o}` });
    batches.push({ firstOffset: first, records });
  }
  return batches;
}

describe('kafkajs range reader (fake broker, record batches encoded by kafkajs)', () => {
  it('from == until fetches nothing and does not even connect', async () => {
    const log = new FakeLog({ batches: plain(10, 5) });
    expect(await readAll(log, range(4, 4))).toEqual([]);
    expect(log.fetches).toEqual([]);
    expect(log.connects).toBe(0);
  });

  it('rejects from > until', async () => {
    const log = new FakeLog({ batches: plain(10, 5) });
    await expect(readAll(log, range(5, 4))).rejects.toThrow(RangeError);
  });

  it('reads exactly [from, until) of a plain log, across batches, dropping records past until', async () => {
    const log = new FakeLog({ batches: plain(20, 4), batchesPerFetch: 1 });
    const records = await readAll(log, range(3, 11));
    expect(offsets(records)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    // Batches start at 0, 4, 8: the first batch begins before `from` and is trimmed by Batch.
    expect(log.fetches).toEqual([3, 4, 8]);
    const first = records[0];
    expect(first).toMatchObject({ topic: 't', partition: 0, offset: 3n, timestamp: 1_700_000_000_000n });
    expect(first?.key?.toString()).toBe('k3');
    expect(first?.value?.toString()).toBe('v3');
  });

  it('reads a whole small log in one fetch', async () => {
    const log = new FakeLog({ batches: plain(10, 3) });
    expect(offsets(await readAll(log, range(0, 10)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(log.fetches).toEqual([0]);
  });

  describe('compacted log with holes', () => {
    // Batch 0..6 keeps 0, 2, 5 (its tail 6 was compacted away); batch 7..10 keeps 9; 11..12 intact.
    const compacted: FakeLogOptions = {
      batches: [
        { firstOffset: 0, lastOffsetDelta: 6, records: [{ offset: 0 }, { offset: 2 }, { offset: 5 }] },
        { firstOffset: 7, lastOffsetDelta: 3, records: [{ offset: 9 }] },
        { firstOffset: 11, records: [{ offset: 11 }, { offset: 12 }] },
      ],
      batchesPerFetch: 1,
    };

    it('spans holes and ends inside a hole', async () => {
      const log = new FakeLog(compacted);
      expect(offsets(await readAll(log, range(1, 8)))).toEqual([2, 5]);
      // 1 → batch 0..6 → next 7 ≥ 8? no: 7 < 8 → batch 7..10 → next 11.
      expect(log.fetches).toEqual([1, 7]);
    });

    it('a range entirely inside a hole yields nothing and finishes', async () => {
      const log = new FakeLog(compacted);
      expect(offsets(await readAll(log, range(6, 7)))).toEqual([]);
      expect(log.fetches).toEqual([6]);
      const log2 = new FakeLog(compacted);
      expect(offsets(await readAll(log2, range(7, 9)))).toEqual([]);
    });

    it('reads the whole log', async () => {
      const log = new FakeLog(compacted);
      expect(offsets(await readAll(log, range(0, 13)))).toEqual([0, 2, 5, 9, 11, 12]);
    });
  });

  describe('transactions under read_committed', () => {
    const txLog = (batchesPerFetch?: number): FakeLog =>
      new FakeLog({ ...transactionalLog, ...(batchesPerFetch === undefined ? {} : { batchesPerFetch }) });

    it('a range ending right after the commit marker finishes', async () => {
      const log = txLog(1);
      expect(offsets(await readAll(log, range(0, 4)))).toEqual([0, 1, 2]);
      expect(log.fetches).toEqual([0, 3]);
    });

    it('aborted records are never delivered; a range ending right after the abort marker finishes', async () => {
      expect(offsets(await readAll(txLog(1), range(0, 7)))).toEqual([0, 1, 2]);
      expect(offsets(await readAll(txLog(), range(0, 7)))).toEqual([0, 1, 2]);
      expect(offsets(await readAll(txLog(1), range(4, 7)))).toEqual([]);
      expect(offsets(await readAll(txLog(), range(0, 8)))).toEqual([0, 1, 2, 7]);
    });
  });

  it('reads past a batch the cleaner emptied but kept (producer state) in one fetch', async () => {
    const log = new FakeLog({
      batches: [
        { firstOffset: 0, records: [0, 1, 2, 3, 4].map((offset) => ({ offset })) },
        { firstOffset: 5, lastOffsetDelta: 1, records: [], producerId: 3 },
      ],
      highWatermark: 7,
    });
    expect(offsets(await readAll(log, range(3, 7)))).toEqual([3, 4]);
    expect(log.fetches).toEqual([3]);
  });

  it('finishes over a trailing invisible gap (no batch left) when the visible end covers until', async () => {
    const log = new FakeLog({ batches: [{ firstOffset: 0, records: [0, 1, 2, 3, 4].map((offset) => ({ offset })) }], highWatermark: 7 });
    expect(offsets(await readAll(log, range(3, 7)))).toEqual([3, 4]);
    // One fetch for 3..4, then maxEmptyPolls (2) empty polls at 5.
    expect(log.fetches).toEqual([3, 5, 5]);
  });

  it('throws RangeNotVisibleError when until is beyond the LSO', async () => {
    const log = new FakeLog({ batches: plain(10, 5), lastStableOffset: 5 });
    const got: number[] = [];
    const reader = createKafkajsRangeReader(config, 1, logger, { createCluster: () => log.cluster(), maxEmptyPolls: 2 });
    const run = async (): Promise<void> => {
      for await (const chunk of reader.read(range(0, 8))) got.push(...offsets(chunk));
    };
    await expect(run()).rejects.toBeInstanceOf(RangeNotVisibleError);
    await reader.close();
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it('turns OffsetOutOfRange into DataLossError, never a silent reset', async () => {
    const log = new FakeLog({ batches: plain(10, 5), logStartOffset: 5 });
    await expect(readAll(log, range(2, 8))).rejects.toBeInstanceOf(DataLossError);
  });

  it('retries a leader change after refreshing metadata', async () => {
    const log = new FakeLog({ batches: plain(10, 5), failures: ['NOT_LEADER_FOR_PARTITION'] });
    expect(offsets(await readAll(log, range(0, 10)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(log.fetches).toEqual([0, 0]);
    expect(log.refreshes).toBeGreaterThanOrEqual(1);
  });

  it('keeps every value of duplicate header keys', async () => {
    const log = new FakeLog({
      batches: [{ firstOffset: 0, records: [{ offset: 0, headers: { a: ['1', '2'], b: 'x' } }] }],
    });
    const [record] = await readAll(log, range(0, 1));
    expect(record?.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['a', '1'],
      ['a', '2'],
      ['b', 'x'],
    ]);
  });

  it('reuses the slot cluster across reads, and a fresh connection creates a new one', async () => {
    const log = new FakeLog({ batches: plain(10, 5) });
    const reader = createKafkajsRangeReader(config, 2, logger, { createCluster: () => log.cluster() });
    const drain = async (r: OffsetRange, freshConnection = false): Promise<number> => {
      let n = 0;
      for await (const chunk of reader.read(r, { freshConnection })) n += chunk.length;
      return n;
    };
    expect(await drain(range(0, 5))).toBe(5);
    expect(await drain(range(5, 10))).toBe(5);
    expect(log.clustersCreated).toBe(1);
    expect(await drain(range(0, 10), true)).toBe(10);
    expect(log.clustersCreated).toBe(2);
    await reader.close();
  });

  it('stops when the signal aborts', async () => {
    const log = new FakeLog({ batches: plain(20, 2), batchesPerFetch: 1 });
    const reader = createKafkajsRangeReader(config, 1, logger, { createCluster: () => log.cluster() });
    const ac = new AbortController();
    const run = async (): Promise<number> => {
      let n = 0;
      for await (const chunk of reader.read(range(0, 20), { signal: ac.signal })) {
        n += chunk.length;
        ac.abort();
      }
      return n;
    };
    await expect(run()).rejects.toThrow();
    expect(log.fetches).toEqual([0]);
    await reader.close();
  });

  it('asks for about what is left of a range once it knows the partition, and for everything when that cut the next batch', async () => {
    // One-record batches (a backlog a rate-limited job reads one record at a time), then one batch of 40.
    const small = plain(10, 1);
    const big: FakeBatch = { firstOffset: 10, records: plain(50, 50)[0]?.records.slice(10) ?? [] };
    const log = new FakeLog({ batches: [...small, big], byteLimits: true });
    // One empty poll would end the read at the visible end: the cut must not count as one.
    const reader = createKafkajsRangeReader(config, 1, logger, { createCluster: () => log.cluster(), maxEmptyPolls: 1 });
    const drain = async (r: OffsetRange): Promise<number[]> => {
      const out: SourceRecord[] = [];
      for await (const chunk of reader.read(r)) out.push(...chunk);
      return offsets(out);
    };
    try {
      for (let o = 0; o < 10; o++) expect(await drain(range(o, o + 1))).toEqual([o]);
      // The first read knows nothing of the partition; the others ask for one record and two batches' room.
      const [first, ...rest] = log.fetchLimits;
      expect(first).toBe(config.partitionMaxBytes);
      expect(rest).toHaveLength(9);
      for (const limit of rest) expect(limit).toBeLessThan(1000);
      // The big batch does not fit that room: the cut batch is nothing, so the read asks again for everything.
      expect(await drain(range(10, 12))).toEqual([10, 11]);
      expect(log.fetches.slice(10)).toEqual([10, 10]);
      expect(log.fetchLimits.slice(10)).toEqual([expect.any(Number), config.partitionMaxBytes]);
      expect(log.fetchLimits[10]).toBeLessThan(1000);
      // Now its batches are known to be that large: no cut, one fetch.
      expect(await drain(range(12, 50))).toEqual(Array.from({ length: 38 }, (_, i) => 12 + i));
      expect(log.fetches.slice(12)).toEqual([12]);
    } finally {
      await reader.close();
    }
  });
});

describe('partitionFetchBytes', () => {
  const max = 1 << 20;
  it('is partitionMaxBytes before anything is known of the partition, and for long ranges', () => {
    expect(partitionFetchBytes(undefined, 1n, max)).toBe(max);
    expect(partitionFetchBytes({ bytesPerOffset: 100, largestBatch: 200 }, BigInt(max) + 1n, max)).toBe(max);
    expect(partitionFetchBytes({ bytesPerOffset: 100, largestBatch: 200 }, 100_000n, max)).toBe(max);
  });

  it("is the offsets left at the partition's bytes per offset plus room for two of its largest batches", () => {
    expect(partitionFetchBytes({ bytesPerOffset: 70.5, largestBatch: 90 }, 1n, max)).toBe(251);
    expect(partitionFetchBytes({ bytesPerOffset: 100, largestBatch: 16_384 }, 10n, max)).toBe(33_768);
  });
});
