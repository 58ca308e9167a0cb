import { recordCaps, type RateLimits } from '../rate-limits';

const limits = (over: Partial<RateLimits>): RateLimits => ({
  batchIntervalMs: 1000,
  maxRatePerPartition: 0,
  minRatePerPartition: 1,
  maxRecordsPerBatch: 0,
  ...over,
});
const backlog = (entries: Record<string, number>): Map<string, bigint> => new Map(Object.entries(entries).map(([k, v]) => [k, BigInt(v)]));
const caps = (b: Record<string, number>, l: Partial<RateLimits>): Record<string, number> =>
  Object.fromEntries([...recordCaps(backlog(b), limits(l))].map(([k, v]) => [k, Number(v)]));

describe('recordCaps', () => {
  it('has no caps without limits (read to latest)', () => {
    expect(caps({ 't:0': 1000, 't:1': 10 }, {})).toEqual({});
  });

  it('applies maxRatePerPartition x interval seconds, floored', () => {
    expect(caps({ 't:0': 1000, 't:1': 10 }, { maxRatePerPartition: 150, batchIntervalMs: 500 })).toEqual({ 't:0': 75, 't:1': 75 });
  });

  it('per-partition and per-topic overrides win over the job-wide rate', () => {
    const perPartition = { 't:1': { maxRatePerPartition: 10 }, u: { maxRatePerPartition: 20 } };
    expect(caps({ 't:0': 1000, 't:1': 1000, 'u:0': 1000 }, { maxRatePerPartition: 100, perPartition })).toEqual({
      't:0': 100,
      't:1': 10,
      'u:0': 20,
    });
  });

  it('splits the backpressure estimate by backlog share, capped by maxRatePerPartition, floored by minRatePerPartition', () => {
    expect(caps({ 't:0': 900, 't:1': 100, 't:2': 0 }, { estimatedRate: 1000 })).toEqual({ 't:0': 900, 't:1': 100, 't:2': 1 });
    expect(caps({ 't:0': 900, 't:1': 100 }, { estimatedRate: 1000, maxRatePerPartition: 500 })).toEqual({ 't:0': 500, 't:1': 100 });
    expect(caps({ 't:0': 999, 't:1': 1 }, { estimatedRate: 100, minRatePerPartition: 5 })).toEqual({ 't:0': 99, 't:1': 5 });
  });

  it('splits maxRecordsPerBatch by backlog share, rounding shares below one record up', () => {
    expect(caps({ 't:0': 9990, 't:1': 10, 't:2': 0 }, { maxRecordsPerBatch: 100 })).toEqual({ 't:0': 99, 't:1': 1 });
    expect(caps({ 't:0': 600, 't:1': 400 }, { maxRecordsPerBatch: 100, maxRatePerPartition: 50 })).toEqual({ 't:0': 50, 't:1': 40 });
  });
});

describe('recordCaps: Spark static cap edge cases', () => {
  it.each([
    [100, 1000, 100],
    [75, 500, 37],
    [3, 1500, 4],
    [1, 100, 1],
    [50_000, 2000, 100_000],
  ])('rate %p over %p ms -> %p records (never below one)', (rate, intervalMs, expected) => {
    expect(caps({ 't:0': 1_000_000 }, { maxRatePerPartition: rate, batchIntervalMs: intervalMs })).toEqual({ 't:0': expected });
  });
});
