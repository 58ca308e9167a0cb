import { performance } from 'node:perf_hooks';
import {
  abortableWait,
  BlockLostError,
  fromServiceError,
  InvalidRequestError,
  toWireBlock,
  type BatchPlan,
  type BatchSummary,
  type BlockBatch,
  type BlockInfo,
  type BlockLog,
  type CheckpointStore,
  type Logger,
  type SluiceError,
  type WireBlockTaskResult,
  type WireTaskResult,
} from '@sluice/common';
import type * as grpc from '@grpc/grpc-js';
import type { ActiveBatch } from '../api/http';
import type { DriverMetrics } from '../api/metrics';
import type { BatchEvent, BatchTiming } from '../dispatch/batch-execution';
import type { ExecutorHandle, ExecutorRegistry } from '../dispatch/registry';
import { RetryPolicy } from '../dispatch/retry-policy';
import type { PidRateEstimator } from '../planning/rate-estimator';
import type { ReceiverTracker } from './receiver-tracker';

export interface BlockBatchSettings {
  job: string;
  historySize: number;
  taskTimeoutMs: number;
  maxTaskFailures: number;
  retryBackoffMs: number;
  executorWaitMs: number;
}

export interface BlockBatchDependencies {
  log: BlockLog;
  store: Pick<CheckpointStore, 'lastCommittedBatchId'>;
  registry: ExecutorRegistry;
  tracker: ReceiverTracker;
  metrics: DriverMetrics;
  rateEstimator: Pick<PidRateEstimator, 'compute'> | undefined;
  logger: Logger;
  committed(event: BatchEvent): void;
  /** Blocks found lost (SLUICE_BLOCK_LOST), with their records. */
  blocksLost(blocks: BlockInfo[]): void;
}

/**
 * Receiver mode's batches (Spark's ReceivedBlockTracker and JobGenerator): at each batch time the
 * recorded, unallocated blocks are allocated to the batch (stored before any task is sent), each
 * executor holding some of them in memory gets one block task for them, blocks whose executor is
 * gone go to any live executor that reads them from the write-ahead log, and blocks in neither
 * place are marked lost (SLUICE_BLOCK_LOST, counted). Then the batch commits, dropping its blocks
 * from the block log and trimming the logs.
 */
export class BlockBatches {
  active: ActiveBatch | undefined;
  private readonly retry: RetryPolicy;

  constructor(
    private readonly settings: BlockBatchSettings,
    private readonly deps: BlockBatchDependencies
  ) {
    this.retry = new RetryPolicy(settings);
  }

  /** Runs the batch allocated but not committed (by an earlier driver, or before an outage), if any. */
  async replay(epoch: string, timing: BatchTiming): Promise<boolean> {
    const planned = await this.deps.log.planned();
    if (!planned || planned.id !== (await this.deps.store.lastCommittedBatchId()) + 1) return false;
    this.deps.logger.warn(
      { batch: planned.id, blocks: planned.blocks.length },
      'running an allocated but uncommitted batch of blocks again'
    );
    await this.execute({ ...planned, epoch }, timing, true);
    return true;
  }

  /** Allocates the blocks received so far to the next batch and runs it. */
  async next(epoch: string, time: number, timing: BatchTiming): Promise<void> {
    const planStarted = performance.now();
    const id = (await this.deps.store.lastCommittedBatchId()) + 1;
    const batch = await this.deps.log.allocate(epoch, id, time);
    if (batch === null) {
      await this.replay(epoch, timing);
      return;
    }
    await this.execute(batch, { ...timing, planMs: timing.planMs + performance.now() - planStarted }, false);
  }

  private async execute(batch: BlockBatch, timing: BatchTiming, replayed: boolean): Promise<void> {
    const started = performance.now();
    const done = await this.deps.log.done();
    const pending = batch.blocks.filter((b) => !done.has(b.id));
    this.active = {
      id: batch.id,
      time: batch.time,
      schedulingDelayMs: Math.round(timing.schedulingDelayMs),
      tasksTotal: 0,
      tasksDone: 0,
      ranges: batch.blocks.flatMap((b) => b.ranges.map(({ topic, partition, from, until }) => ({ topic, partition, from, until }))),
    };
    const outcomes: Array<{ executor: string; attempt: number; result: WireTaskResult; blocks: BlockInfo[] }> = [];
    try {
      for (let attempt = 0, failures = 0, outages = 0; pending.length > 0; attempt++) {
        const { tasks, lost } = this.route(pending);
        if (lost.length > 0) await this.markLost(batch, lost);
        if (tasks.size === 0) {
          // Logged blocks and no live executor to read them: wait for one (SLUICE_NO_EXECUTORS after executorWaitMs).
          const left = pending.filter((b) => !lost.includes(b));
          pending.length = 0;
          pending.push(...left);
          if (left.length > 0) await this.deps.registry.waitForChange(this.settings.executorWaitMs);
          continue;
        }
        this.active.tasksTotal += tasks.size;
        const settled = await Promise.allSettled(
          [...tasks].map(async ([handle, blocks]) => {
            const answer = await this.runTask(batch, handle, blocks, attempt);
            const result = answer.result as WireTaskResult;
            outcomes.push({ executor: handle.id, attempt, result, blocks });
            if (this.active) this.active.tasksDone++;
            // Blocks the executor found neither in memory nor in a log (it is a new process under the same id).
            const lostIds = new Set(Array.isArray(answer.lost_blocks) ? answer.lost_blocks : []);
            const gone = blocks.filter((b) => lostIds.has(b.id));
            if (gone.length > 0) await this.markLost(batch, gone);
            return blocks;
          })
        );
        const finished = new Set(settled.flatMap((s) => (s.status === 'fulfilled' ? s.value.map((b) => b.id) : [])));
        for (const l of lost) finished.add(l.id);
        const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as SluiceError] : []));
        const still = pending.filter((b) => !finished.has(b.id));
        pending.length = 0;
        pending.push(...still);
        if (failed.length === 0) continue;
        const error = failed[0] as SluiceError;
        const kind = this.retry.classify(error);
        if (kind === 'fenced') throw error;
        if (kind === 'outage') outages++;
        if (this.retry.counts(error)) failures++;
        if (kind === 'task' && this.retry.givesUp(error, failures)) throw error;
        this.deps.logger.warn({ batch: batch.id, err: error.message, attempt }, 'block task failed; trying again');
        await abortableWait(this.retry.backoffMs(kind, failures, outages), new AbortController().signal);
      }
      await this.commit(batch, outcomes, timing, started, replayed);
    } catch (e) {
      this.deps.metrics.batches.inc({ outcome: 'failed' });
      throw e;
    } finally {
      this.active = undefined;
    }
  }

  /** Each pending block to the executor holding it in memory, else (logged) to a live executor, else lost. */
  private route(pending: BlockInfo[]): { tasks: Map<ExecutorHandle, BlockInfo[]>; lost: BlockInfo[] } {
    const tasks = new Map<ExecutorHandle, BlockInfo[]>();
    const lost: BlockInfo[] = [];
    const alive = this.deps.registry.alive();
    let next = 0;
    for (const block of pending) {
      let handle = this.deps.registry.get(block.executor);
      if (!handle && block.wal !== '' && alive.length > 0) handle = alive[next++ % alive.length];
      if (!handle) {
        if (block.wal === '') lost.push(block);
        continue; // logged, but no executor now: the next attempt finds one
      }
      const list = tasks.get(handle);
      if (list) list.push(block);
      else tasks.set(handle, [block]);
    }
    return { tasks, lost };
  }

  private async markLost(batch: BlockBatch, blocks: BlockInfo[]): Promise<void> {
    for (const block of blocks) {
      const error = new BlockLostError(
        `batch ${batch.id}: block ${block.id} (${block.records} records) of receiver ${block.receiver} is lost: executor ${block.executor} is gone and receiver.writeAheadLog is off`,
        { block: block.id, records: block.records }
      );
      this.deps.logger.error({ batch: batch.id, block: block.id, records: block.records }, error.message);
      await this.deps.log.commitBlock({ epoch: batch.epoch, batchId: batch.id, block, writes: [], lost: true });
    }
    this.deps.blocksLost(blocks);
  }

  private async runTask(batch: BlockBatch, handle: ExecutorHandle, blocks: BlockInfo[], attempt: number): Promise<WireBlockTaskResult> {
    await handle.acquire();
    try {
      return await new Promise<WireBlockTaskResult>((resolve, reject) => {
        handle.client.RunBlockTask(
          {
            task_id: `${batch.id}/blocks@${handle.id}/${attempt}`,
            job: this.settings.job,
            batch_id: String(batch.id),
            epoch: batch.epoch,
            attempt,
            blocks: blocks.map(toWireBlock),
          },
          { deadline: Date.now() + this.settings.taskTimeoutMs },
          (e: grpc.ServiceError | null, result?: WireBlockTaskResult) => {
            if (e) reject(fromServiceError(e, `block task of batch ${batch.id} on ${handle.id}`));
            else if (!result?.result || !Array.isArray(result.lost_blocks))
              reject(new InvalidRequestError(`block task of batch ${batch.id}: malformed answer from ${handle.id}`));
            else resolve(result);
          }
        );
      });
    } finally {
      handle.release();
    }
  }

  private async commit(
    batch: BlockBatch,
    outcomes: Array<{ executor: string; attempt: number; result: WireTaskResult; blocks: BlockInfo[] }>,
    timing: BatchTiming,
    started: number,
    replayed: boolean
  ): Promise<void> {
    const done = await this.deps.log.done();
    let records = 0;
    let bytes = 0;
    let lostRecords = 0;
    for (const d of done.values()) {
      if (d.lost) lostRecords += d.records;
      else {
        records += d.records;
        bytes += d.bytes;
      }
    }
    const executorOf = new Map<string, { executor: string; attempt: number; ms: number }>();
    for (const o of outcomes)
      for (const b of o.blocks) executorOf.set(b.id, { executor: o.executor, attempt: o.attempt, ms: o.result.total_ms });
    const processingMs = performance.now() - started;
    const summary: BatchSummary = {
      id: batch.id,
      epoch: batch.epoch,
      time: batch.time,
      records,
      bytes,
      schedulingDelayMs: Math.round(timing.schedulingDelayMs),
      planMs: Math.round(timing.planMs),
      processingMs: Math.round(processingMs),
      totalDelayMs: Math.round(timing.schedulingDelayMs + timing.planMs + processingMs),
      lostRecords,
      ranges: batch.blocks.flatMap((b) => {
        const by = executorOf.get(b.id);
        return b.ranges.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          from: r.from,
          until: r.until,
          records: done.get(b.id)?.lost ? 0 : r.records,
          executor: by?.executor ?? b.executor,
          attempt: by?.attempt ?? 0,
          durationMs: by?.ms ?? 0,
        }));
      }),
    };
    const trims = new Map<string, string>();
    for (const b of batch.blocks) if (b.wal !== '' && compareEntries(b.wal, trims.get(b.receiver)) > 0) trims.set(b.receiver, b.wal);
    await this.deps.log.commitBatch(batch, summary, this.settings.historySize, trims);
    const plan: BatchPlan = {
      id: batch.id,
      epoch: batch.epoch,
      time: batch.time,
      ranges: summary.ranges.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        fromOffset: BigInt(r.from),
        untilOffset: BigInt(r.until),
      })),
    };
    this.deps.metrics.batchCommitted(plan, summary);
    // Backpressure: the estimate becomes the receivers' rate limit (Spark's RateController).
    const rate = this.deps.rateEstimator?.compute(summary.time, records, summary.processingMs, summary.schedulingDelayMs);
    if (rate !== undefined) this.deps.tracker.setRate(rate);
    this.deps.committed({ summary, replayed, tasks: outcomes.length, commitMs: 0 });
  }
}

/** Orders stream entry ids (`<ms>-<seq>`); an absent one is lowest. */
function compareEntries(a: string, b: string | undefined): number {
  if (b === undefined) return 1;
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am > bm ? 1 : -1) : as === bs ? 0 : as > bs ? 1 : -1;
}
