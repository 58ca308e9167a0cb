import {
  partitionKey,
  SluiceError,
  type BatchPlan,
  type CheckpointStore,
  type JobSettings,
  type Logger,
  type OffsetOracle,
  type TopicPartition,
} from '@sluice/common';
import type { BoundedRun } from '../bounded-run';
import type { StickyAssignment } from './assignment';
import type { LagHistory } from './lag';
import { isTimestamp, planBatch } from './planner';
import type { PidRateEstimator } from './rate-estimator';
import { resolveSubscription, resolveSubscriptionWithBounds } from './subscription';

export interface PlanningDependencies {
  oracle: OffsetOracle;
  store: Pick<CheckpointStore, 'readOffsets' | 'lastCommittedBatchId' | 'writePlan'>;
  assignment: StickyAssignment;
  /** The live executors the partitions are assigned to. */
  registry: { alive(): ReadonlyArray<{ id: string }> };
  lags: LagHistory;
  /** Under backpressure: the rate the next batch is planned at. */
  rateEstimator: PidRateEstimator | undefined;
  logger: Logger;
}

/**
 * The planning I/O around {@link planBatch}: reads the checkpoint and Kafka's offsets, applies the
 * data loss policy, assigns the partitions, and writes the plan before any task leaves.
 */
export class BatchPlanner {
  /** Topics subscribed as of the last resolution (a pattern's grow as topics are created). */
  private currentTopics: string[];
  /** Deleted subscribed topics already warned about (failOnDataLoss = false), so each is logged once. */
  private readonly announcedMissing = new Set<string>();
  private readonly logger: Logger;

  constructor(
    private readonly settings: JobSettings,
    private readonly deps: PlanningDependencies
  ) {
    this.currentTopics = settings.topics;
    this.logger = deps.logger;
  }

  get topics(): string[] {
    return this.currentTopics;
  }

  async resolve(): Promise<{ partitions: TopicPartition[]; missing: string[] }> {
    const resolved = await resolveSubscription(this.deps.oracle, this.settings.subscription);
    this.currentTopics = resolved.topics;
    return resolved;
  }

  /**
   * Subscribed topics deleted while the job runs are data loss: they stop the job (failOnDataLoss)
   * or are left out of the batches, with a warning, until they come back.
   */
  private checkMissing(missing: string[], bounded: BoundedRun | undefined): void {
    const fresh = missing.filter((m) => !this.announcedMissing.has(m));
    if (missing.length > 0 && this.settings.failOnDataLoss) {
      throw new SluiceError(
        'SLUICE_DATA_LOSS',
        `subscribed topic(s) deleted while the job ran: ${missing.join(', ')} (records not yet processed are lost); ` +
          'failOnDataLoss=false leaves them out and resumes them if they come back',
        { details: { topics: missing } }
      );
    }
    if (fresh.length > 0)
      this.logger.warn(
        { topics: fresh },
        'subscribed topic(s) deleted: left out of the batches until they come back (failOnDataLoss=false)'
      );
    for (const m of missing) this.announcedMissing.add(m);
    for (const known of [...this.announcedMissing]) if (!missing.includes(known)) this.announcedMissing.delete(known);
    bounded?.leaveOut(missing);
  }

  /**
   * Plans batch `lastCommitted + 1` due at `time` (the wall clock), under `epoch`, capped at a
   * bounded run's stop offsets, and makes the plan durable.
   */
  async plan({ time, epoch, bounded }: { time: number; epoch: string; bounded?: BoundedRun }): Promise<BatchPlan> {
    const stopAt = bounded?.stopAt;
    // Redis and Kafka at once (planning time is batch overhead): the checkpoint reads, and the
    // subscription's partitions with their latest and earliest offsets.
    const stored = Promise.all([this.deps.store.readOffsets(), this.deps.store.lastCommittedBatchId()]);
    const checkpointed = stored.then(([checkpoint]) => checkpoint.keys());
    // Only a pattern awaits these keys; a failed read is reported through `stored`.
    checkpointed.catch(() => undefined);
    const [[checkpoint, lastCommitted], resolved] = await Promise.all([
      stored,
      resolveSubscriptionWithBounds(this.deps.oracle, this.settings.subscription, checkpointed),
    ]);
    this.currentTopics = resolved.topics;
    this.checkMissing(resolved.missing, bounded);
    const { partitions, latest, earliest } = resolved;
    const starting = this.settings.startingOffsets;
    // Only the job's first batch uses the starting offsets (a pattern matching nothing yet leaves the
    // checkpoint empty: its first topic, created later, still starts at earliest, as in Spark).
    const firstBatch = checkpoint.size === 0 && lastCommitted === 0;
    const timestampOffsets =
      firstBatch && isTimestamp(starting) ? await this.deps.oracle.offsetsForTimes(partitions, BigInt(starting.timestamp)) : undefined;
    const rateEstimator = this.deps.rateEstimator;
    const { ranges, skips } = planBatch({
      partitions,
      checkpoint,
      latest,
      earliest,
      startingOffsets: this.settings.startingOffsets,
      maxRatePerPartition: this.settings.maxRatePerPartition,
      batchIntervalMs: this.settings.batchIntervalMs,
      minRatePerPartition: this.settings.minRatePerPartition,
      maxRecordsPerBatch: this.settings.maxRecordsPerBatch,
      perPartition: this.settings.rateOverrides,
      // Under backpressure: the estimate, or `initialRate` until there is one (Spark's rule).
      estimatedRate: rateEstimator ? (rateEstimator.rate ?? this.settings.initialRate) : undefined,
      stopAt,
      timestampOffsets,
      firstBatch,
      failOnDataLoss: this.settings.failOnDataLoss,
    });
    for (const skip of skips) {
      const key = partitionKey(skip);
      this.logger.warn(
        {
          topic: skip.topic,
          partition: skip.partition,
          checkpoint: String(skip.checkpoint),
          earliest: String(skip.from),
          lost: String(skip.lost),
        },
        skip.reason === 'retention'
          ? `data loss: ${key} offsets [${skip.checkpoint}, ${skip.from}) were deleted before they were processed; skipping to ${skip.from} (failOnDataLoss=false)`
          : `data loss: ${key} checkpoint ${skip.checkpoint} is beyond the latest offset (topic recreated?); restarting at its earliest offset ${skip.from}, lost records unknown (failOnDataLoss=false)`
      );
      // A bounded run does not wait for offsets of a recreated topic's earlier life.
      if (skip.reason === 'reset') stopAt?.delete(key);
    }
    this.deps.assignment.rebalance(
      partitions.map(partitionKey),
      this.deps.registry.alive().map((e) => e.id)
    );
    const plan: BatchPlan = { id: lastCommitted + 1, epoch, time, ranges };
    if (skips.length > 0) plan.skips = skips;
    this.deps.lags.add(plan.id, time, ranges, latest);
    // The plan is durable before any task leaves: a crash from here on replays exactly these ranges.
    await this.deps.store.writePlan(plan);
    return plan;
  }
}
