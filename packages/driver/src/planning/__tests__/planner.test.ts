import { isSluiceError, type StartingOffsets, type TopicPartition } from '@sluice/common';
import { planBatch, planRanges, type PlanInput } from '../planner';

/** Offsets per `topic:partition`, written as numbers for readability. */
type Offsets = Record<string, number>;

const toMap = (offsets: Offsets = {}): Map<string, bigint> => new Map(Object.entries(offsets).map(([k, v]) => [k, BigInt(v)]));

function tps(...keys: string[]): TopicPartition[] {
  return keys.map((key) => {
    const [topic, partition] = key.split(':') as [string, string];
    return { topic, partition: Number(partition) };
  });
}

interface Case {
  name: string;
  partitions: string[];
  earliest: Offsets;
  latest: Offsets;
  checkpoint?: Offsets;
  startingOffsets?: StartingOffsets;
  maxRatePerPartition?: number;
  batchIntervalMs?: number;
  stopAt?: Offsets;
  /** Expected `[from, until)` per `topic:partition`, in partition order. */
  expected: Array<[string, number, number]>;
}

function input(c: Omit<Case, 'name' | 'expected'>): PlanInput {
  return {
    partitions: tps(...c.partitions),
    checkpoint: toMap(c.checkpoint),
    latest: toMap(c.latest),
    earliest: toMap(c.earliest),
    startingOffsets: c.startingOffsets ?? 'latest',
    maxRatePerPartition: c.maxRatePerPartition ?? 0,
    batchIntervalMs: c.batchIntervalMs ?? 1000,
    stopAt: c.stopAt === undefined ? undefined : toMap(c.stopAt),
  };
}

function expectedRanges(expected: Case['expected']): Array<{ topic: string; partition: number; fromOffset: bigint; untilOffset: bigint }> {
  return expected.map(([key, from, until]) => {
    const [tp] = tps(key) as [TopicPartition];
    return { ...tp, fromOffset: BigInt(from), untilOffset: BigInt(until) };
  });
}

/** Runs `fn` and returns what it threw (failing if it did not throw). */
function thrown(fn: () => unknown): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected planRanges to throw');
}

describe('planRanges', () => {
  const cases: Case[] = [
    // First batch (empty checkpoint): startingOffsets decides.
    {
      name: 'first batch, earliest: every partition starts at its log start',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 5, 't:1': 0 },
      latest: { 't:0': 20, 't:1': 7 },
      startingOffsets: 'earliest',
      expected: [
        ['t:0', 5, 20],
        ['t:1', 0, 7],
      ],
    },
    {
      name: 'first batch, latest: every range is empty at the end of the log',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 5, 't:1': 0 },
      latest: { 't:0': 20, 't:1': 7 },
      startingOffsets: 'latest',
      expected: [
        ['t:0', 20, 20],
        ['t:1', 7, 7],
      ],
    },
    {
      name: 'first batch, explicit JSON: listed partitions start at their offset, unlisted ones at latest',
      partitions: ['t:0', 't:1', 't:2', 'u:0'],
      earliest: { 't:0': 5, 't:1': 0, 't:2': 0, 'u:0': 3 },
      latest: { 't:0': 20, 't:1': 7, 't:2': 9, 'u:0': 30 },
      startingOffsets: { t: { '0': 12, '1': '7' }, u: { '0': 3 } },
      expected: [
        ['t:0', 12, 20],
        ['t:1', 7, 7],
        ['t:2', 9, 9],
        ['u:0', 3, 30],
      ],
    },
    {
      name: 'first batch, explicit JSON naming another topic only: every partition starts at latest',
      partitions: ['t:0'],
      earliest: { 't:0': 0 },
      latest: { 't:0': 4 },
      startingOffsets: { other: { '0': 1 } },
      expected: [['t:0', 4, 4]],
    },
    // Later batches: the checkpoint decides.
    {
      name: 'checkpointed partitions start at the checkpoint whatever startingOffsets says',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 0 },
      latest: { 't:0': 20, 't:1': 7 },
      checkpoint: { 't:0': 10, 't:1': 7 },
      startingOffsets: 'latest',
      expected: [
        ['t:0', 10, 20],
        ['t:1', 7, 7],
      ],
    },
    {
      name: 'checkpoint equal to earliest and to latest are both valid',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 4, 't:1': 0 },
      latest: { 't:0': 20, 't:1': 7 },
      checkpoint: { 't:0': 4, 't:1': 7 },
      expected: [
        ['t:0', 4, 20],
        ['t:1', 7, 7],
      ],
    },
    {
      name: 'a partition new after the first batch starts at earliest, not at latest',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 2 },
      latest: { 't:0': 20, 't:1': 9 },
      checkpoint: { 't:0': 10 },
      startingOffsets: 'latest',
      expected: [
        ['t:0', 10, 20],
        ['t:1', 2, 9],
      ],
    },
    {
      name: 'a partition new after the first batch ignores explicit startingOffsets too',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 2 },
      latest: { 't:0': 20, 't:1': 9 },
      checkpoint: { 't:0': 10 },
      startingOffsets: { t: { '0': 1, '1': 8 } },
      expected: [
        ['t:0', 10, 20],
        ['t:1', 2, 9],
      ],
    },
    // Rate cap: floor(seconds * rate), at least 1.
    {
      name: 'maxRatePerPartition caps each range at floor(interval seconds * rate)',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 0 },
      latest: { 't:0': 1000, 't:1': 30 },
      checkpoint: { 't:0': 100, 't:1': 0 },
      maxRatePerPartition: 75,
      batchIntervalMs: 500,
      expected: [
        ['t:0', 100, 137],
        ['t:1', 0, 30],
      ],
    },
    {
      name: 'a cap below one record still moves one record per batch',
      partitions: ['t:0'],
      earliest: { 't:0': 0 },
      latest: { 't:0': 10 },
      checkpoint: { 't:0': 3 },
      maxRatePerPartition: 1,
      batchIntervalMs: 100,
      expected: [['t:0', 3, 4]],
    },
    {
      name: 'maxRatePerPartition 0 means no cap',
      partitions: ['t:0'],
      earliest: { 't:0': 0 },
      latest: { 't:0': 1_000_000 },
      startingOffsets: 'earliest',
      maxRatePerPartition: 0,
      batchIntervalMs: 100,
      expected: [['t:0', 0, 1_000_000]],
    },
    // Bounded runs: stopAt.
    {
      name: 'stopAt below latest ends the range at stopAt',
      partitions: ['t:0'],
      earliest: { 't:0': 0 },
      latest: { 't:0': 50 },
      checkpoint: { 't:0': 10 },
      stopAt: { 't:0': 15 },
      expected: [['t:0', 10, 15]],
    },
    {
      name: 'stopAt above latest does not extend the range past latest',
      partitions: ['t:0'],
      earliest: { 't:0': 0 },
      latest: { 't:0': 50 },
      checkpoint: { 't:0': 10 },
      stopAt: { 't:0': 80 },
      expected: [['t:0', 10, 50]],
    },
    {
      name: 'stopAt already reached (or passed) gives an empty range at the checkpoint',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 0 },
      latest: { 't:0': 50, 't:1': 50 },
      checkpoint: { 't:0': 15, 't:1': 20 },
      stopAt: { 't:0': 15, 't:1': 12 },
      expected: [
        ['t:0', 15, 15],
        ['t:1', 20, 20],
      ],
    },
    {
      name: 'partitions absent from stopAt get empty ranges',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 4 },
      latest: { 't:0': 50, 't:1': 60 },
      checkpoint: { 't:0': 10 },
      stopAt: { 't:0': 30 },
      expected: [
        ['t:0', 10, 30],
        ['t:1', 4, 4],
      ],
    },
    {
      name: 'the tighter of rate cap and stopAt wins',
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 0, 't:1': 0 },
      latest: { 't:0': 100, 't:1': 100 },
      checkpoint: { 't:0': 0, 't:1': 0 },
      maxRatePerPartition: 20,
      stopAt: { 't:0': 10, 't:1': 90 },
      expected: [
        ['t:0', 0, 10],
        ['t:1', 0, 20],
      ],
    },
    {
      name: 'no partitions, no ranges',
      partitions: [],
      earliest: {},
      latest: {},
      expected: [],
    },
  ];

  it.each(cases)('$name', (c) => {
    expect(planRanges(input(c))).toEqual(expectedRanges(c.expected));
  });

  it('never plans beyond stopAt or latest and never starts before the checkpoint, over a grid of inputs', () => {
    for (const checkpoint of [0, 5, 40]) {
      for (const stop of [0, 5, 39, 40, 41, 100]) {
        for (const rate of [0, 1, 7]) {
          const [range] = planRanges(
            input({
              partitions: ['t:0'],
              earliest: { 't:0': 0 },
              latest: { 't:0': 60 },
              checkpoint: { 't:0': checkpoint },
              maxRatePerPartition: rate,
              stopAt: { 't:0': stop },
            })
          );
          const from = Number(range?.fromOffset);
          const until = Number(range?.untilOffset);
          expect(from).toBe(checkpoint);
          expect(until).toBeGreaterThanOrEqual(from);
          expect(until).toBeLessThanOrEqual(Math.max(from, Math.min(stop, 60)));
        }
      }
    }
  });

  describe('explicit startingOffsets outside [earliest, latest]', () => {
    it.each([
      ['below earliest', 3, "[SLUICE_CONFIG_INVALID] 'job.startingOffsets' gives 3 for t-1, outside its offsets [5, 20]"],
      ['above latest', 21, "[SLUICE_CONFIG_INVALID] 'job.startingOffsets' gives 21 for t-1, outside its offsets [5, 20]"],
    ])('%s: ConfigError naming job.startingOffsets, the partition and its bounds', (_what, offset, message) => {
      const error = thrown(() =>
        planRanges(
          input({
            partitions: ['t:0', 't:1'],
            earliest: { 't:0': 0, 't:1': 5 },
            latest: { 't:0': 9, 't:1': 20 },
            startingOffsets: { t: { '1': offset } },
          })
        )
      );
      expect(isSluiceError(error)).toBe(true);
      expect(error.name).toBe('ConfigError');
      expect(error.code).toBe('SLUICE_CONFIG_INVALID');
      expect(error.message).toBe(message);
    });

    it('accepts the bounds themselves', () => {
      const ranges = planRanges(
        input({
          partitions: ['t:0', 't:1'],
          earliest: { 't:0': 5, 't:1': 5 },
          latest: { 't:0': 20, 't:1': 20 },
          startingOffsets: { t: { '0': 5, '1': 20 } },
        })
      );
      expect(ranges).toEqual(
        expectedRanges([
          ['t:0', 5, 20],
          ['t:1', 20, 20],
        ])
      );
    });
  });

  describe('data loss', () => {
    it('checkpoint beyond latest: DataLossError naming the topic-partition and both offsets', () => {
      const error = thrown(() =>
        planRanges(
          input({
            partitions: ['t:0', 'orders:3'],
            earliest: { 't:0': 0, 'orders:3': 0 },
            latest: { 't:0': 9, 'orders:3': 20 },
            checkpoint: { 't:0': 9, 'orders:3': 25 },
          })
        )
      );
      expect(isSluiceError(error)).toBe(true);
      expect(error.name).toBe('DataLossError');
      expect(error.code).toBe('SLUICE_DATA_LOSS');
      expect(error.message).toBe(
        '[SLUICE_DATA_LOSS] data loss on orders-3 at offset 25: the checkpoint is beyond the latest offset 20 (topic recreated or log truncated); ' +
          'failOnDataLoss=false restarts it at its earliest offset 0'
      );
      expect(error.details).toEqual({ topic: 'orders', partition: 3, requestedOffset: '25' });
    });

    it('checkpoint below earliest (retention): DataLossError naming the topic-partition and both offsets', () => {
      const error = thrown(() =>
        planRanges(
          input({ partitions: ['orders:0'], earliest: { 'orders:0': 100 }, latest: { 'orders:0': 200 }, checkpoint: { 'orders:0': 42 } })
        )
      );
      expect(error.code).toBe('SLUICE_DATA_LOSS');
      expect(error.message).toBe(
        '[SLUICE_DATA_LOSS] data loss on orders-0 at offset 42: offsets below 100 were deleted (retention); the checkpoint points before them ' +
          '(failOnDataLoss=false skips to 100, counting 58 lost records)'
      );
      expect(error.details).toEqual({ topic: 'orders', partition: 0, requestedOffset: '42' });
    });

    it('is not data loss when the checkpoint is inside [earliest, latest] even with a rate cap', () => {
      const ranges = planRanges(
        input({
          partitions: ['t:0'],
          earliest: { 't:0': 100 },
          latest: { 't:0': 200 },
          checkpoint: { 't:0': 100 },
          maxRatePerPartition: 10,
        })
      );
      expect(ranges).toEqual(expectedRanges([['t:0', 100, 110]]));
    });
  });

  it('a partition Kafka gave no offsets for is reported as SLUICE_KAFKA_UNAVAILABLE naming it', () => {
    const error = thrown(() => planRanges(input({ partitions: ['t:0', 't:1'], earliest: { 't:0': 0, 't:1': 0 }, latest: { 't:0': 5 } })));
    expect(error.code).toBe('SLUICE_KAFKA_UNAVAILABLE');
    expect(error.message).toBe('[SLUICE_KAFKA_UNAVAILABLE] Kafka returned no latest offset for t:1');
  });
});

describe('planBatch: failOnDataLoss = false', () => {
  const base = (over: Partial<PlanInput>): PlanInput => ({
    ...input({
      partitions: ['t:0', 't:1'],
      earliest: { 't:0': 100, 't:1': 0 },
      latest: { 't:0': 200, 't:1': 10 },
      checkpoint: { 't:1': 4 },
    }),
    failOnDataLoss: false,
    ...over,
  });

  it('checkpoint below earliest: starts at earliest and reports the skip with the lost count', () => {
    const { ranges, skips } = planBatch(base({ checkpoint: toMap({ 't:0': 42, 't:1': 4 }) }));
    expect(ranges).toEqual(
      expectedRanges([
        ['t:0', 100, 200],
        ['t:1', 4, 10],
      ])
    );
    expect(skips).toEqual([{ topic: 't', partition: 0, checkpoint: 42n, from: 100n, lost: 58n, reason: 'retention' }]);
  });

  it('checkpoint beyond latest (topic recreated): restarts at earliest, lost unknown (0)', () => {
    const { ranges, skips } = planBatch(base({ checkpoint: toMap({ 't:0': 150, 't:1': 25 }) }));
    expect(ranges).toEqual(
      expectedRanges([
        ['t:0', 150, 200],
        ['t:1', 0, 10],
      ])
    );
    expect(skips).toEqual([{ topic: 't', partition: 1, checkpoint: 25n, from: 0n, lost: 0n, reason: 'reset' }]);
  });

  it('a skip still obeys the rate cap and a bounded run target', () => {
    const { ranges } = planBatch(
      base({ checkpoint: toMap({ 't:0': 42, 't:1': 4 }), maxRatePerPartition: 10, stopAt: toMap({ 't:0': 50, 't:1': 10 }) })
    );
    // The stop target 50 is below the new start: nothing left to read there.
    expect(ranges).toEqual(
      expectedRanges([
        ['t:0', 100, 100],
        ['t:1', 4, 10],
      ])
    );
  });

  it('no skips when nothing is lost', () => {
    expect(planBatch(base({ checkpoint: toMap({ 't:0': 100, 't:1': 10 }) })).skips).toEqual([]);
  });

  it('a new partition (no checkpoint) is never a skip, it starts at earliest', () => {
    const { ranges, skips } = planBatch(base({ checkpoint: toMap({ 't:1': 4 }) }));
    expect(ranges[0]).toEqual(expectedRanges([['t:0', 100, 200]])[0]);
    expect(skips).toEqual([]);
  });
});

describe('planBatch: startingOffsets by timestamp', () => {
  const ts = (timestampOffsets: Offsets, checkpoint: Offsets = {}): PlanInput => ({
    ...input({
      partitions: ['t:0', 't:1', 't:2'],
      earliest: { 't:0': 10, 't:1': 0, 't:2': 0 },
      latest: { 't:0': 50, 't:1': 30, 't:2': 8 },
      checkpoint,
      startingOffsets: { timestamp: 1_700_000_000_000 },
    }),
    timestampOffsets: toMap(timestampOffsets),
  });

  it('first batch: each partition starts at the offset the timestamp gives; none found = latest', () => {
    expect(planRanges(ts({ 't:0': 20, 't:1': 30 }))).toEqual(
      expectedRanges([
        ['t:0', 20, 50],
        ['t:1', 30, 30],
        ['t:2', 8, 8],
      ])
    );
  });

  it('an offset below the log start is clamped to earliest', () => {
    expect(planRanges(ts({ 't:0': 3, 't:1': 0, 't:2': 0 }))[0]).toEqual(expectedRanges([['t:0', 10, 50]])[0]);
  });

  it('after the first batch a new partition starts at earliest, not at the timestamp', () => {
    expect(planRanges(ts({ 't:0': 20, 't:1': 5, 't:2': 5 }, { 't:0': 20, 't:1': 5 }))[2]).toEqual(expectedRanges([['t:2', 0, 8]])[0]);
  });
});
