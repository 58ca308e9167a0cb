import { performance } from 'node:perf_hooks';
import {
  CheckpointConflictError,
  partitionKey,
  type BatchPlan,
  type BatchSummary,
  type CheckpointStore,
  type JobSettings,
  type Logger,
  type OffsetRange,
  type RangeCount,
  type SluiceConfig,
} from '@sluice/common';
import type { BoundedProgress, BoundedRun } from '../bounded-run';
import type { ActiveBatch } from '../api/http';
import type { DriverMetrics } from '../api/metrics';
import type { GroupMirror } from '../api/group-mirror';
import type { PidRateEstimator } from '../planning/rate-estimator';
import { splitRanges } from './split';
import { SpeculationMonitor, type SpeculationSettings } from './speculation';
import type { TaskDispatcher, TaskOutcome } from './task-dispatcher';

/** How long a batch waited after it was due, and how long it took to plan (ms). */
export interface BatchTiming {
  schedulingDelayMs: number;
  planMs: number;
}

export interface BatchEvent {
  summary: BatchSummary;
  /** The batch commit itself (after every task committed), not part of the persisted summary. */
  commitMs: number;
  /** Bounded runs (`--until`): offsets done of the total present at start. */
  progress?: BoundedProgress;
  /** A batch planned by an earlier driver and replayed with its original ranges. */
  replayed: boolean;
  tasks: number;
}

export interface ExecutionDependencies {
  store: Pick<CheckpointStore, 'commitBatch' | 'batchCounts' | 'applyStage' | 'readOffset'>;
  dispatcher: Pick<TaskDispatcher, 'run' | 'runSmall'>;
  metrics: DriverMetrics;
  /** Under backpressure: fed each batch's rate. */
  rateEstimator: Pick<PidRateEstimator, 'compute'> | undefined;
  /** The consumer group the committed offsets are mirrored to, if any. */
  mirror: Pick<GroupMirror, 'publish'> | undefined;
  logger: Logger;
  /** Called with each batch once it is committed. */
  committed: (event: BatchEvent) => void;
}

/**
 * Runs a planned batch: its tasks (pieces of split ranges, groups of small ones, speculative
 * copies), then the batch commit with its summary, the metrics and the consumer group mirror.
 */
export class BatchExecution {
  /** The batch in flight, as the UI and API show it. */
  active: ActiveBatch | undefined;
  private readonly speculation: SpeculationSettings | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly settings: JobSettings,
    private readonly config: SluiceConfig,
    private readonly deps: ExecutionDependencies
  ) {
    this.logger = deps.logger;
    const d = config.driver;
    if (d.speculation) {
      this.speculation = {
        multiplier: d.speculationMultiplier,
        quantile: d.speculationQuantile,
        minRuntimeMs: d.speculationMinRuntimeMs,
        intervalMs: d.speculationIntervalMs,
      };
    }
  }

  /**
   * Runs and commits `plan`.
   * @param replayed the plan was made before (by an earlier driver, or before an outage).
   * @param bounded the bounded run the batch is part of, for its progress.
   */
  async execute(
    plan: BatchPlan,
    { timing, replayed, bounded }: { timing: BatchTiming; replayed: boolean; bounded?: BoundedRun }
  ): Promise<void> {
    const started = performance.now();
    const work = splitRanges(
      plan.ranges.filter((r) => r.untilOffset > r.fromOffset),
      this.settings.minPartitions
    );
    const tasks = work.flat();
    this.active = {
      id: plan.id,
      time: plan.time,
      schedulingDelayMs: Math.round(timing.schedulingDelayMs),
      tasksTotal: tasks.length,
      tasksDone: 0,
      ranges: tasks.map((r) => ({ topic: r.topic, partition: r.partition, from: String(r.fromOffset), until: String(r.untilOffset) })),
    };
    // Small whole ranges go to their executors in groups; the others (and pieces) one call each.
    const groupMax = BigInt(this.config.driver.taskGroupRecords) / 16n;
    const isSmall = (pieces: OffsetRange[]): boolean =>
      pieces.length === 1 && (pieces[0] as OffsetRange).untilOffset - (pieces[0] as OffsetRange).fromOffset <= groupMax;
    const small = work.filter(isSmall).flat();
    const single = work.filter((pieces) => !isSmall(pieces));
    const speculation = this.speculation && new SpeculationMonitor(single.flat().length, this.speculation);
    const settled = await Promise.allSettled([
      ...single.map((pieces) => this.runPieces(plan, pieces, speculation)),
      this.deps.dispatcher.runSmall(plan, small),
    ]).finally(() => speculation?.stop());
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    // The batch stays planned: a restarted driver replays it with the same ranges.
    if (failure) {
      this.active = undefined;
      this.deps.metrics.batches.inc({ outcome: 'failed' });
      throw failure.reason;
    }
    const outcomes = settled.flatMap((s) => (s as PromiseFulfilledResult<TaskOutcome[]>).value);
    const processingMs = performance.now() - started;
    const counted = await this.withCommittedCounts(outcomes);
    const summary: BatchSummary = {
      id: plan.id,
      epoch: plan.epoch,
      time: plan.time,
      records: counted.reduce((n, c) => n + c.records, 0),
      bytes: counted.reduce((n, c) => n + c.bytes, 0),
      schedulingDelayMs: Math.round(timing.schedulingDelayMs),
      planMs: Math.round(timing.planMs),
      processingMs: Math.round(processingMs),
      totalDelayMs: Math.round(timing.schedulingDelayMs + timing.planMs + processingMs),
      lostRecords: Number((plan.skips ?? []).reduce((n, k) => n + k.lost, 0n)),
      ranges: counted.map(({ outcome: o, records }) => ({
        topic: o.range.topic,
        partition: o.range.partition,
        from: String(o.range.fromOffset),
        until: String(o.range.untilOffset),
        records,
        executor: o.executor,
        attempt: o.attempt,
        durationMs: o.result.total_ms,
        ...(o.copies && { speculative: o.speculative === true, copies: o.copies }),
      })),
    };
    const commitStarted = performance.now();
    try {
      await this.deps.store.commitBatch(plan, summary, this.config.driver.historySize);
    } catch (e) {
      this.deps.metrics.batches.inc({ outcome: 'failed' });
      throw e;
    } finally {
      this.active = undefined;
    }
    this.deps.metrics.batchCommitted(plan, summary);
    // A replay's processing time holds only what its tasks did, not what an earlier driver's committed.
    const processed = replayed ? outcomes.reduce((n, o) => n + Number(o.result.records), 0) : summary.records;
    this.deps.rateEstimator?.compute(summary.time, processed, summary.processingMs, summary.schedulingDelayMs);
    // Off the critical path: the next batch does not wait for Kafka's group coordinator.
    this.deps.mirror?.publish(new Map(plan.ranges.map((r) => [partitionKey(r), r.untilOffset])));
    const event: BatchEvent = {
      summary,
      replayed,
      tasks: tasks.length,
      commitMs: Math.round(performance.now() - commitStarted),
      progress: bounded?.progressAfter(plan),
    };
    this.logger.debug({ batch: plan.id, records: summary.records, tasks: work.length }, 'batch committed');
    this.deps.committed(event);
  }

  /**
   * Records and bytes of each task's range, as the commit script counted them for the batch: the
   * chunks every attempt committed, by this driver or by one before it (a replay), each once. A range
   * without counts (committed by an executor of an earlier version) counts what its task reported.
   */
  private async withCommittedCounts(outcomes: TaskOutcome[]): Promise<Array<{ outcome: TaskOutcome; records: number; bytes: number }>> {
    const byPartition = new Map<string, RangeCount[]>();
    for (const count of outcomes.length === 0 ? [] : await this.deps.store.batchCounts()) {
      const counts = byPartition.get(partitionKey(count));
      if (counts) counts.push(count);
      else byPartition.set(partitionKey(count), [count]);
    }
    return outcomes.map((outcome) => {
      const { range, result } = outcome;
      const inRange = (byPartition.get(partitionKey(range)) ?? []).filter((c) => c.from >= range.fromOffset && c.from < range.untilOffset);
      if (inRange.length === 0) return { outcome, records: Number(result.records), bytes: Number(result.bytes) };
      return { outcome, records: inRange.reduce((n, c) => n + c.records, 0), bytes: inRange.reduce((n, c) => n + c.bytes, 0) };
    });
  }

  /**
   * Runs the pieces of one partition's range at once; later pieces that finished before the ones
   * ahead of them left their output staged, and their stages are applied here, in offset order.
   */
  private async runPieces(plan: BatchPlan, pieces: OffsetRange[], speculation?: SpeculationMonitor): Promise<TaskOutcome[]> {
    const outcomes = await Promise.all(pieces.map((piece, index) => this.deps.dispatcher.run(plan, piece, { piece: index, speculation })));
    for (const outcome of outcomes) {
      if (outcome.result.status !== 'STAGED') continue;
      const piece = outcome.range;
      const applied = await this.deps.store.applyStage({ batchId: plan.id, epoch: plan.epoch }, piece, piece.fromOffset);
      if (applied.status !== 'committed' && (await this.deps.store.readOffset(piece)) !== piece.untilOffset) {
        throw new CheckpointConflictError(
          `batch ${plan.id}: the staged output of ${partitionKey(piece)} [${piece.fromOffset}, ${piece.untilOffset}) could not be applied`,
          {
            batchId: plan.id,
          }
        );
      }
    }
    return outcomes;
  }
}
