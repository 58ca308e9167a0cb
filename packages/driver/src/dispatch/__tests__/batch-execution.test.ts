import {
  createLogger,
  loadConfig,
  partitionKey,
  type BatchPlan,
  type BatchSummary,
  type ChunkCommitResult,
  type OffsetRange,
  type RangeCount,
  type WireTaskResult,
} from '@sluice/common';
import { testJobSettings } from '../../__tests__/job-settings';
import { DriverMetrics } from '../../api/metrics';
import { BoundedRun } from '../../bounded-run';
import { BatchExecution, type BatchEvent, type ExecutionDependencies } from '../batch-execution';
import type { TaskOutcome } from '../task-dispatcher';

/**
 * Running a planned batch against a fake dispatcher and checkpoint store: which ranges go as task
 * groups or single tasks, split pieces with staged output, and the batch summary that is committed.
 */

/** taskGroupRecords 1600: ranges of at most 100 offsets travel in task groups. */
const config = loadConfig({ conf: ['driver.taskGroupRecords=1600', 'driver.historySize=50'] });

const range = (partition: number, fromOffset: bigint, untilOffset: bigint): OffsetRange => ({
  topic: 't',
  partition,
  fromOffset,
  untilOffset,
});

const result = (range: OffsetRange, status: WireTaskResult['status'] = 'COMMITTED'): WireTaskResult => ({
  status,
  executor_id: 'e1',
  records: String(range.untilOffset - range.fromOffset),
  bytes: String(10n * (range.untilOffset - range.fromOffset)),
  fetch_ms: 1,
  process_ms: 1,
  commit_ms: 1,
  total_ms: 5,
  chunks: 1,
});

function harness(
  options: {
    minPartitions?: number;
    counts?: RangeCount[];
    staged?: (range: OffsetRange) => boolean;
    applyStage?: ChunkCommitResult;
    storedOffset?: bigint | null;
  } = {}
) {
  const calls = { single: [] as Array<{ range: OffsetRange; piece?: number }>, small: [] as OffsetRange[][], applied: [] as string[] };
  const committed: Array<{ plan: BatchPlan; summary: BatchSummary; historySize: number }> = [];
  const published: Array<Map<string, bigint>> = [];
  const rates: number[][] = [];
  const events: BatchEvent[] = [];
  const outcome = (r: OffsetRange): TaskOutcome => ({
    range: r,
    executor: 'e1',
    attempt: 1,
    result: result(r, options.staged?.(r) ? 'STAGED' : 'COMMITTED'),
  });
  const deps: ExecutionDependencies = {
    store: {
      commitBatch: (plan, summary, historySize) => {
        committed.push({ plan, summary, historySize });
        return Promise.resolve();
      },
      batchCounts: () => Promise.resolve(options.counts ?? []),
      applyStage: (_batch, piece, pieceStart) => {
        calls.applied.push(`${partitionKey(piece)} ${pieceStart}`);
        return Promise.resolve(options.applyStage ?? { status: 'committed' });
      },
      readOffset: () => Promise.resolve(options.storedOffset ?? null),
    },
    dispatcher: {
      run: (_plan, r, runOptions) => {
        calls.single.push({ range: r, piece: runOptions?.piece });
        return Promise.resolve(outcome(r));
      },
      runSmall: (_plan, ranges) => {
        calls.small.push(ranges);
        return Promise.resolve(ranges.map(outcome));
      },
    },
    metrics: new DriverMetrics(1000),
    rateEstimator: {
      compute: (...args) => {
        rates.push(args);
        return undefined;
      },
    },
    mirror: { publish: (offsets) => published.push(offsets) },
    logger: createLogger('silent'),
    committed: (event) => events.push(event),
  };
  const execution = new BatchExecution(testJobSettings('exec', ['t'], { minPartitions: options.minPartitions ?? 0 }), config, deps);
  return { execution, calls, committed, published, rates, events, metrics: deps.metrics };
}

const timing = { schedulingDelayMs: 12.4, planMs: 3.2 };

describe('BatchExecution', () => {
  it('sends small ranges as one task group, larger ones as tasks, and commits the summary', async () => {
    const h = harness();
    const plan: BatchPlan = { id: 4, epoch: '2', time: 1000, ranges: [range(0, 0n, 100n), range(1, 10n, 211n), range(2, 5n, 5n)] };
    await h.execution.execute(plan, { timing, replayed: false });
    expect(h.calls.small).toEqual([[range(0, 0n, 100n)]]);
    expect(h.calls.single).toEqual([{ range: range(1, 10n, 211n), piece: 0 }]);
    expect(h.committed).toHaveLength(1);
    const { summary, historySize } = h.committed[0] as { summary: BatchSummary; historySize: number };
    expect(historySize).toBe(50);
    expect(summary).toMatchObject({
      id: 4,
      epoch: '2',
      time: 1000,
      records: 301,
      bytes: 3010,
      schedulingDelayMs: 12,
      planMs: 3,
      lostRecords: 0,
    });
    // The empty range is no task, and in no summary range.
    expect(summary.ranges.map((r) => [r.partition, r.from, r.until, r.records])).toEqual([
      [1, '10', '211', 201],
      [0, '0', '100', 100],
    ]);
    expect(h.published).toEqual([
      new Map([
        ['t:0', 100n],
        ['t:1', 211n],
        ['t:2', 5n],
      ]),
    ]);
    expect(h.events).toEqual([expect.objectContaining({ summary, replayed: false, tasks: 2, progress: undefined })]);
    expect(h.execution.active).toBeUndefined();
  });

  it("counts the records the commit script counted for the batch, a replay's earlier attempts included", async () => {
    // Partition 0 was partly committed before the replay ([0, 60) by an earlier driver); partition 1 has no counts.
    const counts: RangeCount[] = [
      { topic: 't', partition: 0, from: 0n, records: 55, bytes: 550 },
      { topic: 't', partition: 0, from: 60n, records: 38, bytes: 380 },
      { topic: 't', partition: 0, from: 200n, records: 9, bytes: 90 }, // outside this batch's range
    ];
    const h = harness({ counts });
    const plan: BatchPlan = { id: 5, epoch: '3', time: 0, ranges: [range(0, 0n, 100n), range(1, 0n, 7n)] };
    const bounded = new BoundedRun(new Map([['t:0', 200n]]));
    await h.execution.execute(plan, { timing, replayed: true, bounded });
    const summary = h.committed[0]?.summary as BatchSummary;
    expect(summary.ranges.map((r) => [r.partition, r.records])).toEqual([
      [0, 93],
      [1, 7],
    ]);
    expect([summary.records, summary.bytes]).toEqual([100, 1000]);
    // The rate estimate sees what this driver's tasks processed (100 + 7 offsets reported), not the counts.
    expect(h.rates.map((r) => r[1])).toEqual([107]);
    expect(h.events[0]).toMatchObject({ replayed: true, progress: { done: 100, total: 200 } });
  });

  it('applies the staged output of split pieces in offset order', async () => {
    const h = harness({ minPartitions: 4, staged: (r) => r.fromOffset > 0n });
    const plan: BatchPlan = { id: 6, epoch: '1', time: 0, ranges: [range(0, 0n, 400n)] };
    await h.execution.execute(plan, { timing, replayed: false });
    expect(h.calls.single.map((c) => [c.piece, c.range.fromOffset, c.range.untilOffset])).toEqual([
      [0, 0n, 100n],
      [1, 100n, 200n],
      [2, 200n, 300n],
      [3, 300n, 400n],
    ]);
    expect(h.calls.applied).toEqual(['t:0 100', 't:0 200', 't:0 300']);
    expect(h.committed).toHaveLength(1);
  });

  it('fails the batch when a staged piece cannot be applied, leaving it planned', async () => {
    const h = harness({ minPartitions: 2, staged: (r) => r.fromOffset > 0n, applyStage: { status: 'skipped', storedOffset: 0n } });
    const plan: BatchPlan = { id: 7, epoch: '1', time: 0, ranges: [range(0, 0n, 400n)] };
    await expect(h.execution.execute(plan, { timing, replayed: false })).rejects.toThrow(
      '[SLUICE_CHECKPOINT_CONFLICT] batch 7: the staged output of t:0 [200, 400) could not be applied'
    );
    expect(h.committed).toEqual([]);
    expect(h.execution.active).toBeUndefined();
    expect(await h.metrics.registry.getSingleMetricAsString('sluice_batches_total')).toContain('sluice_batches_total{outcome="failed"} 1');
  });

  it('a staged piece already applied (by an attempt before) is no conflict', async () => {
    const h = harness({
      minPartitions: 2,
      staged: (r) => r.fromOffset > 0n,
      applyStage: { status: 'skipped', storedOffset: 400n },
      storedOffset: 400n,
    });
    await h.execution.execute({ id: 8, epoch: '1', time: 0, ranges: [range(0, 0n, 400n)] }, { timing, replayed: false });
    expect(h.committed).toHaveLength(1);
  });
});
