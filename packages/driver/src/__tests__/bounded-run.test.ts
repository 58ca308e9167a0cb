import { type BatchPlan, type TopicPartition } from '@sluice/common';
import { BoundedRun, stopOffsets } from '../bounded-run';

const partitions: TopicPartition[] = [
  { topic: 't', partition: 0 },
  { topic: 't', partition: 1 },
  { topic: 'u-v', partition: 0 },
];
const latest = new Map([
  ['t:0', 100n],
  ['t:1', 50n],
  ['u-v:0', 7n],
]);
const oracle = {
  latestOffsets: () => Promise.resolve(new Map(latest)),
  offsetsForTimes: (_: TopicPartition[], timestamp: bigint) => Promise.resolve(new Map([['t:0', timestamp / 1000n]])),
};

const plan = (ranges: Array<[string, number, bigint, bigint]>): BatchPlan => ({
  id: 1,
  epoch: '1',
  time: 0,
  ranges: ranges.map(([topic, partition, fromOffset, untilOffset]) => ({ topic, partition, fromOffset, untilOffset })),
});

describe('stopOffsets', () => {
  it('latest: every partition at its latest offset', async () => {
    expect(await stopOffsets(oracle, partitions, 'latest')).toEqual(latest);
  });

  it('a timestamp: the first offsets at or after it', async () => {
    expect(await stopOffsets(oracle, partitions, { timestamp: 42_000 })).toEqual(new Map([['t:0', 42n]]));
  });

  it('explicit offsets: only the partitions named', async () => {
    expect(await stopOffsets(oracle, partitions, { t: { '1': 20 }, 'u-v': { '0': '7' } })).toEqual(
      new Map([
        ['t:1', 20n],
        ['u-v:0', 7n],
      ])
    );
  });

  it('an offset beyond the latest is a configuration error', async () => {
    await expect(stopOffsets(oracle, partitions, { t: { '1': 51 } })).rejects.toThrow(
      "[SLUICE_CONFIG_INVALID] 'driver.until' stops t:1 at 51, beyond its latest offset 50"
    );
  });
});

describe('BoundedRun', () => {
  it('is reached once every checkpointed offset is at its stop', async () => {
    const run = new BoundedRun(
      new Map([
        ['t:0', 10n],
        ['t:1', 0n],
      ])
    );
    const store = (offsets: Array<[string, bigint]>) => ({ readOffsets: () => Promise.resolve(new Map(offsets)) });
    expect(await run.reached(store([['t:0', 9n]]))).toBe(false);
    // A partition without a checkpoint has not reached even offset 0.
    expect(await run.reached(store([['t:0', 10n]]))).toBe(false);
    expect(
      await run.reached(
        store([
          ['t:0', 11n],
          ['t:1', 0n],
        ])
      )
    ).toBe(true);
  });

  it('leaves out the partitions of deleted topics and deleted assigned partitions', () => {
    const run = new BoundedRun(
      new Map([
        ['t:0', 1n],
        ['t:1', 1n],
        ['u-v:0', 1n],
        ['u:0', 1n],
      ])
    );
    run.leaveOut(['u-v', 't-1']);
    expect([...run.stopAt.keys()]).toEqual(['t:0', 'u:0']);
  });

  it('reports the offsets done since each partition started, capped at its stop', () => {
    const run = new BoundedRun(
      new Map([
        ['t:0', 100n],
        ['t:1', 50n],
      ])
    );
    expect(run.progressAfter(plan([['t', 0, 40n, 70n]]))).toEqual({ done: 30, total: 60 });
    expect(
      run.progressAfter(
        plan([
          ['t', 0, 70n, 100n],
          ['t', 1, 20n, 30n],
        ])
      )
    ).toEqual({ done: 70, total: 90 });
    expect(run.progressAfter(plan([['t', 1, 30n, 60n]]))).toEqual({ done: 90, total: 90 });
  });
});
