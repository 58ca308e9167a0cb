import { PassThrough } from 'node:stream';
import {
  createLogger,
  partitionKey,
  TopicNotFoundError,
  type BatchPlan,
  type JobSettings,
  type OffsetOracle,
  type TopicPartition,
} from '@sluice/common';
import { testJobSettings } from '../../__tests__/job-settings';
import { BoundedRun } from '../../bounded-run';
import { StickyAssignment } from '../assignment';
import { BatchPlanner } from '../batch-planner';
import { LagHistory } from '../lag';

/**
 * The planning I/O against a fake Kafka (topics with one partition each, and their offset bounds)
 * and a fake checkpoint: what is planned and written, and the data loss policy for deleted topics
 * and recreated ones.
 */

function harness(overrides: Partial<JobSettings> = {}) {
  /** topic -> [earliest, latest] of its partition 0. */
  const kafka = new Map<string, [bigint, bigint]>([
    ['a', [0n, 50n]],
    ['b', [0n, 20n]],
  ]);
  const checkpoint = new Map<string, bigint>();
  const written: BatchPlan[] = [];
  const logged = new PassThrough();
  const partitionsOf = (topics: string[]): TopicPartition[] => {
    const unknown = topics.filter((t) => !kafka.has(t));
    if (unknown.length > 0) throw new TopicNotFoundError(unknown);
    return topics.map((topic) => ({ topic, partition: 0 }));
  };
  const notAsked = (): never => {
    throw new Error('not asked when planning');
  };
  const oracle: OffsetOracle = {
    listTopics: () => Promise.resolve([...kafka.keys()]),
    listPartitions: (topics) => Promise.resolve().then(() => partitionsOf(topics)),
    partitionsWithBounds: (topics) =>
      Promise.resolve().then(() => {
        const partitions = partitionsOf(topics);
        const bound = (i: 0 | 1) => new Map(partitions.map((tp) => [partitionKey(tp), (kafka.get(tp.topic) as [bigint, bigint])[i]]));
        return { partitions, earliest: bound(0), latest: bound(1) };
      }),
    latestOffsets: notAsked,
    offsetBounds: notAsked,
    offsetsForTimes: notAsked,
    firstRecordTimestamps: notAsked,
    close: () => Promise.resolve(),
  };
  const assignment = new StickyAssignment();
  const planner = new BatchPlanner(testJobSettings('plan', ['a', 'b'], overrides), {
    oracle,
    store: {
      readOffsets: () => Promise.resolve(new Map(checkpoint)),
      lastCommittedBatchId: () => Promise.resolve(written.length),
      writePlan: (plan) => {
        written.push(plan);
        return Promise.resolve();
      },
    },
    assignment,
    registry: { alive: () => [{ id: 'e1' }, { id: 'e2' }] },
    lags: new LagHistory(10),
    rateEstimator: undefined,
    logger: createLogger('info', {}, { pretty: false, destination: logged }),
  });
  const warnings = (): string[] =>
    String(logged.read() ?? '')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
  return { planner, kafka, checkpoint, written, assignment, warnings };
}

const ranges = (plan: BatchPlan): string[] => plan.ranges.map((r) => `${partitionKey(r)} [${r.fromOffset}, ${r.untilOffset})`);

describe('BatchPlanner', () => {
  it('plans from the checkpoint, assigns the partitions and writes the plan', async () => {
    const h = harness();
    h.checkpoint.set('a:0', 30n);
    const plan = await h.planner.plan({ time: 1234, epoch: '5' });
    expect(ranges(plan)).toEqual(['a:0 [30, 50)', 'b:0 [0, 20)']);
    expect(plan).toMatchObject({ id: 1, epoch: '5', time: 1234 });
    expect(h.written).toEqual([plan]);
    expect(['a:0', 'b:0'].map((p) => h.assignment.pick(p, ['e1', 'e2'])).sort()).toEqual(['e1', 'e2']);
  });

  it('fails with SLUICE_DATA_LOSS when a subscribed topic is deleted, writing no plan', async () => {
    const h = harness();
    h.kafka.delete('b');
    await expect(h.planner.plan({ time: 0, epoch: '1' })).rejects.toThrow(
      '[SLUICE_DATA_LOSS] subscribed topic(s) deleted while the job ran: b (records not yet processed are lost); ' +
        'failOnDataLoss=false leaves them out and resumes them if they come back'
    );
    expect(h.written).toEqual([]);
  });

  it('failOnDataLoss=false: leaves a deleted topic out, warning once, and a bounded run does not wait for it', async () => {
    const h = harness({ failOnDataLoss: false });
    h.kafka.delete('b');
    const bounded = new BoundedRun(
      new Map([
        ['a:0', 50n],
        ['b:0', 20n],
      ])
    );
    expect(ranges(await h.planner.plan({ time: 0, epoch: '1', bounded }))).toEqual(['a:0 [0, 50)']);
    expect(ranges(await h.planner.plan({ time: 0, epoch: '1', bounded }))).toEqual(['a:0 [0, 50)']);
    expect(h.warnings()).toEqual(['subscribed topic(s) deleted: left out of the batches until they come back (failOnDataLoss=false)']);
    expect([...bounded.stopAt.keys()]).toEqual(['a:0']);
    expect(h.planner.topics).toEqual(['a']);
  });

  it('failOnDataLoss=false: a checkpoint beyond the latest offset restarts at the earliest, and a bounded run no longer waits for it', async () => {
    const h = harness({ failOnDataLoss: false });
    h.checkpoint.set('b:0', 90n);
    const bounded = new BoundedRun(
      new Map([
        ['a:0', 50n],
        ['b:0', 95n],
      ])
    );
    const plan = await h.planner.plan({ time: 0, epoch: '1', bounded });
    expect(ranges(plan)).toEqual(['a:0 [0, 50)', 'b:0 [0, 20)']);
    expect(plan.skips).toEqual([expect.objectContaining({ topic: 'b', partition: 0, reason: 'reset', checkpoint: 90n, from: 0n })]);
    expect(h.warnings()).toEqual([
      'data loss: b:0 checkpoint 90 is beyond the latest offset (topic recreated?); restarting at its earliest offset 0, lost records unknown (failOnDataLoss=false)',
    ]);
    expect([...bounded.stopAt.keys()]).toEqual(['a:0']);
  });
});
