import { firstRecordTimestamps, PROBE_PARTITION_BYTES } from '../kafkajs/record-timestamps';
import type { OffsetRange } from '../types';
import { fakeLogReaderConfig as config, FakeLog, range, transactionalLog, type FakeBatch } from './kafkajs-fake-log';

const T0 = 1_700_000_000_000;

/** Offsets 0..9 in batches of two records; record n has the timestamp T0 + 1000 n. */
const tenRecords: FakeBatch[] = Array.from({ length: 5 }, (_, b) => ({
  firstOffset: 2 * b,
  firstTimestamp: T0 + 2000 * b,
  records: [
    { offset: 2 * b, timestampDelta: 0 },
    { offset: 2 * b + 1, timestampDelta: 1000 },
  ],
}));

function partition(p: number, from: number, until: number): OffsetRange {
  return { ...range(from, until), partition: p };
}

describe('firstRecordTimestamps (age of the oldest unprocessed record)', () => {
  it('answers the timestamp of the record at the offset, for several partitions in one Fetch', async () => {
    const log = new FakeLog({ batches: tenRecords });
    const found = await firstRecordTimestamps(log.cluster(), config, [partition(0, 3, 10), partition(1, 6, 8)]);
    expect(found).toEqual(
      new Map([
        ['t:0', BigInt(T0 + 3000)],
        ['t:1', BigInt(T0 + 6000)],
      ])
    );
    expect(log.fetches).toEqual([3, 6]);
    expect(log.fetchLimits).toEqual([PROBE_PARTITION_BYTES, PROBE_PARTITION_BYTES]);
  });

  it('skips transaction markers and aborted records; null when the range holds no visible record', async () => {
    // Each batch written a second after the one before.
    const timed = {
      ...transactionalLog,
      batches: transactionalLog.batches.map((b) => ({ ...b, firstTimestamp: T0 + 1000 * b.firstOffset })),
    };
    // From the commit marker (3): the aborted 4 and 5 and the abort marker 6 are not records to process.
    const found = await firstRecordTimestamps(new FakeLog(timed).cluster(), config, [range(3, 8)]);
    expect(found).toEqual(new Map([['t:0', BigInt(T0 + 7000)]]));
    const none = await firstRecordTimestamps(new FakeLog(timed).cluster(), config, [range(3, 7)]);
    expect(none).toEqual(new Map([['t:0', null]]));
  });

  it('an empty range is null without a Fetch', async () => {
    const log = new FakeLog({ batches: tenRecords });
    expect(await firstRecordTimestamps(log.cluster(), config, [range(4, 4)])).toEqual(new Map([['t:0', null]]));
    expect(log.fetches).toEqual([]);
  });

  it('a batch larger than the byte limit is asked for again alone, where the broker sends it whole', async () => {
    const big = 'x'.repeat(PROBE_PARTITION_BYTES);
    const batches: FakeBatch[] = [
      { firstOffset: 0, firstTimestamp: T0, records: [{ offset: 0, value: big }] },
      { firstOffset: 1, firstTimestamp: T0 + 5000, records: [{ offset: 1, value: big }] },
    ];
    const log = new FakeLog({ batches, byteLimits: true, wholeFirstBatch: true });
    // Partition 0 comes first in the Fetch and gets its batch whole; partition 1's is cut.
    const found = await firstRecordTimestamps(log.cluster(), config, [partition(0, 0, 2), partition(1, 1, 2)]);
    expect(found).toEqual(
      new Map([
        ['t:0', BigInt(T0)],
        ['t:1', BigInt(T0 + 5000)],
      ])
    );
    expect(log.fetches).toEqual([0, 1, 1]);
  });

  it("one partition's error does not lose the others: they are asked for on their own", async () => {
    const log = new FakeLog({ batches: tenRecords, logStartOffset: 4 });
    const found = await firstRecordTimestamps(log.cluster(), config, [partition(0, 2, 10), partition(1, 5, 10)]);
    // Partition 0's records below 4 are deleted: left out of the answer, not guessed.
    expect(found).toEqual(new Map([['t:1', BigInt(T0 + 5000)]]));
  });
});
