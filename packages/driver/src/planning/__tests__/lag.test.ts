import { LagHistory, lagReport, sortPartitions } from '../lag';

describe('lagReport', () => {
  it('gives lag per partition and total, min, max, avg; never negative', () => {
    const report = lagReport([
      { topic: 't', partition: 0, committed: 10n, latest: 25n, earliest: 0n },
      { topic: 't', partition: 1, committed: 7n, latest: 7n, earliest: 0n },
      { topic: 't', partition: 2, committed: 9n, latest: 5n, earliest: 0n },
      { topic: 't', partition: 3, committed: 0n, latest: 9_007_199_254_740_993n, earliest: 0n },
    ]);
    expect(report.partitions.map((p) => p.lag)).toEqual(['15', '0', '0', '9007199254740993']);
    expect(report.total).toBe('9007199254741008');
    expect(report.min).toBe(0);
    expect(report.max).toBe(Number(9_007_199_254_740_993n));
    expect(report.avg).toBeCloseTo(Number(9_007_199_254_741_008n) / 4);
  });

  it('is all zeros without partitions', () => {
    expect(lagReport([])).toEqual({ total: '0', min: 0, max: 0, avg: 0, maxSeconds: 0, partitions: [] });
  });

  it('gives the age of the oldest record not processed per lagging partition, 0 without lag, null when unknown', () => {
    const rows = [
      { topic: 't', partition: 0, committed: 10n, latest: 25n, earliest: 0n },
      { topic: 't', partition: 1, committed: 7n, latest: 7n, earliest: 0n },
      { topic: 't', partition: 2, committed: 3n, latest: 9n, earliest: 0n },
      { topic: 't', partition: 3, committed: 3n, latest: 5n, earliest: 0n },
      { topic: 't', partition: 4, committed: 3n, latest: 5n, earliest: 0n },
    ];
    const now = 1_700_000_100_000;
    const timestamps = new Map<string, bigint | null>([
      ['t:0', 1_700_000_000_000n],
      // Only markers or aborted records left: nothing waits.
      ['t:3', null],
      // Stamped by a producer whose clock runs ahead.
      ['t:4', 1_700_000_200_000n],
    ]);
    const report = lagReport(rows, { timestamps, now });
    expect(report.partitions.map((p) => p.lagSeconds)).toEqual([100, 0, null, 0, 0]);
    expect(report.maxSeconds).toBe(100);
    expect(lagReport(rows).partitions.map((p) => p.lagSeconds)).toEqual([null, 0, null, null, null]);
    expect(lagReport(rows.slice(2, 3)).maxSeconds).toBeNull();
  });

  it('LagHistory: the lag to latest at each planned batch, newest first, the newest `capacity` kept', () => {
    const history = new LagHistory(2);
    const range = (partition: number, from: bigint, until: bigint) => ({ topic: 't', partition, fromOffset: from, untilOffset: until });
    const latest = new Map([
      ['t:0', 100n],
      ['t:1', 50n],
    ]);
    history.add(1, 1000, [range(0, 0n, 10n), range(1, 0n, 10n)], latest);
    history.add(2, 2000, [range(0, 10n, 20n), range(1, 50n, 50n)], latest);
    history.add(3, 3000, [range(0, 100n, 100n), range(1, 50n, 50n)], latest);
    expect(history.newest(5)).toEqual([
      { batch: 3, time: 3000, lag: '0' },
      { batch: 2, time: 2000, lag: '90' },
    ]);
    expect(history.newest(1)).toEqual([{ batch: 3, time: 3000, lag: '0' }]);
    expect(history.newest(0)).toEqual([]);
  });

  it('sorts by topic then partition', () => {
    const rows = sortPartitions([
      { topic: 'b', partition: 0 },
      { topic: 'a', partition: 10 },
      { topic: 'a', partition: 2 },
    ]);
    expect(rows).toEqual([
      { topic: 'a', partition: 2 },
      { topic: 'a', partition: 10 },
      { topic: 'b', partition: 0 },
    ]);
  });
});
