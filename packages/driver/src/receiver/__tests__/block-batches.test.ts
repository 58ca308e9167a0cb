import { createLogger, type BatchSummary, type BlockBatch, type BlockInfo, type WireBlockTaskRequest } from '@sluice/common';
import { DriverMetrics } from '../../api/metrics';
import type { BatchEvent } from '../../dispatch/batch-execution';
import type { ExecutorHandle, ExecutorRegistry } from '../../dispatch/registry';
import { BlockBatches, type BlockBatchDependencies } from '../block-batches';
import type { ReceiverTracker } from '../receiver-tracker';

/**
 * Where a batch's blocks go, against fake executors and a fake block log: to the executor holding
 * them in memory, to any live executor when theirs is gone and they were logged, or marked lost
 * (counted) when neither; the batch commits with the records applied and the lost ones.
 */

const block = (id: string, executor: string, wal: string, records: number): BlockInfo => ({
  id,
  receiver: 'receiver-0',
  executor,
  wal,
  records,
  bytes: records * 10,
  logBytes: wal === '' ? 0 : records * 14,
  ranges: [{ topic: 't', partition: 0, from: '0', until: String(records), records }],
});

function setup(alive: string[], blocks: BlockInfo[]) {
  const done = new Map<string, { lost: boolean; records: number; bytes: number }>();
  const calls: Array<{ executor: string; blocks: string[] }> = [];
  const handles = new Map<string, ExecutorHandle>(
    alive.map((id) => [
      id,
      {
        id,
        acquire: () => Promise.resolve(),
        release: () => undefined,
        client: {
          RunBlockTask: (request: WireBlockTaskRequest, _options: unknown, callback: (e: null, r: unknown) => void) => {
            calls.push({ executor: id, blocks: request.blocks.map((b) => b.block_id) });
            for (const b of request.blocks) done.set(b.block_id, { lost: false, records: Number(b.records), bytes: Number(b.bytes) });
            const result = {
              status: 'COMMITTED',
              executor_id: id,
              records: '0',
              bytes: '0',
              fetch_ms: 0,
              process_ms: 0,
              commit_ms: 0,
              total_ms: 1,
              chunks: 1,
            };
            callback(null, { result, lost_blocks: [] });
          },
        },
      } as unknown as ExecutorHandle,
    ])
  );
  const committed: Array<{ summary: BatchSummary; trims: Map<string, string> }> = [];
  const lost: BlockInfo[] = [];
  const events: BatchEvent[] = [];
  const batch: BlockBatch = { id: 1, epoch: '1', time: 1000, blocks };
  const deps: BlockBatchDependencies = {
    log: {
      allocate: () => Promise.resolve(batch),
      planned: () => Promise.resolve(null),
      done: () => Promise.resolve(new Map(done)),
      commitBlock: ({ block: b, lost: isLost }: { block: BlockInfo; lost?: boolean }) => {
        done.set(b.id, { lost: isLost === true, records: b.records, bytes: b.bytes });
        return Promise.resolve('committed');
      },
      commitBatch: (_b: BlockBatch, summary: BatchSummary, _h: number, trims: Map<string, string>) => {
        committed.push({ summary, trims });
        return Promise.resolve();
      },
    } as unknown as BlockBatchDependencies['log'],
    store: { lastCommittedBatchId: () => Promise.resolve(0) },
    registry: {
      get: (id: string) => handles.get(id),
      alive: () => [...handles.values()],
      waitForChange: () => Promise.reject(new Error('no executor')),
    } as unknown as ExecutorRegistry,
    tracker: { executorAlive: (id: string) => handles.has(id), setRate: () => undefined } as unknown as ReceiverTracker,
    metrics: new DriverMetrics(1000),
    rateEstimator: undefined,
    logger: createLogger('silent'),
    committed: (event) => events.push(event),
    blocksLost: (blocks) => lost.push(...blocks),
  };
  const batches = new BlockBatches(
    { job: 'j', historySize: 10, taskTimeoutMs: 1000, maxTaskFailures: 2, retryBackoffMs: 0, executorWaitMs: 100 },
    deps
  );
  return { batches, calls, committed, lost, events };
}

describe('batches of blocks', () => {
  it('runs each block where it is in memory, reads logged blocks of a dead executor elsewhere, and counts the unlogged ones lost', async () => {
    const blocks = [block('a', 'e1', '', 100), block('b', 'gone', '5-0', 50), block('c', 'gone', '', 30), block('d', 'e1', '', 20)];
    const { batches, calls, committed, lost, events } = setup(['e1'], blocks);
    await batches.next('1', 1000, { schedulingDelayMs: 0, planMs: 0 });
    expect(calls).toEqual([{ executor: 'e1', blocks: ['a', 'b', 'd'] }]);
    expect(lost.map((b) => b.id)).toEqual(['c']);
    const [{ summary, trims }] = committed as [{ summary: BatchSummary; trims: Map<string, string> }];
    expect([summary.records, summary.lostRecords]).toEqual([170, 30]);
    expect(trims).toEqual(new Map([['receiver-0', '5-0']]));
    expect(events.map((e) => e.summary.id)).toEqual([1]);
  });

  it('logged blocks and no executor at all: the batch fails and stays allocated, nothing is marked lost', async () => {
    const { batches, lost, committed } = setup([], [block('a', 'gone', '7-1', 10)]);
    await expect(batches.next('1', 1000, { schedulingDelayMs: 0, planMs: 0 })).rejects.toThrow('no executor');
    expect([lost, committed]).toEqual([[], []]);
  });
});
