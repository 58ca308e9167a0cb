import { lagReport, sortPartitions } from '../lag';

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
    expect(lagReport([])).toEqual({ total: '0', min: 0, max: 0, avg: 0, partitions: [] });
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
