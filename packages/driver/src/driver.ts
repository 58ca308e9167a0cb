import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import {
  type CheckpointStore,
  partitionKey,
  type BatchPlan,
  type BatchSummary,
  type Job,
  type Logger,
  type OffsetOracle,
  type SluiceConfig,
  type StartingOffsets,
  type TopicPartition,
} from '@sluice/common';
import { StickyAssignment } from './assignment';
import { startDriverService } from './driver-service';
import { planRanges } from './planner';
import { ExecutorRegistry } from './registry';
import { TaskDispatcher, type TaskOutcome } from './task-dispatcher';

/** The job as the driver runs it: the module's settings with the configuration's overrides applied. */
export interface DriverJobSettings {
  name: string;
  topics: string[];
  startingOffsets: StartingOffsets;
  batchIntervalMs: number;
  maxRatePerPartition: number;
}

export function resolveJobSettings(job: Job, config: SluiceConfig): DriverJobSettings {
  return {
    name: config.job.name ?? job.name,
    topics: config.job.topics ?? job.source.topics,
    startingOffsets: config.job.startingOffsets ?? job.source.startingOffsets ?? 'latest',
    batchIntervalMs: config.job.batchIntervalMs ?? job.batch?.intervalMs ?? 1000,
    maxRatePerPartition: config.job.maxRatePerPartition ?? job.batch?.maxRatePerPartition ?? 0,
  };
}

/** How long a batch waited after it was due, and how long it took to plan (ms). */
interface BatchTiming {
  schedulingDelayMs: number;
  planMs: number;
}

export interface BatchEvent {
  summary: BatchSummary;
  /** The batch commit itself (after every task committed), not part of the persisted summary. */
  commitMs: number;
  /** A batch planned by an earlier driver and replayed with its original ranges. */
  replayed: boolean;
  tasks: number;
}

/** Owned by the driver from construction on: {@link Driver.close} closes them. */
export interface DriverDependencies {
  oracle: OffsetOracle;
  store: CheckpointStore;
  logger: Logger;
}

/**
 * Plans, dispatches and commits batches, strictly one at a time, on a fixed grid of
 * `batchIntervalMs` (a batch due while the previous one still runs waits: its scheduling delay).
 * Emits `batch` (a {@link BatchEvent}) after each commit.
 */
export class Driver extends EventEmitter {
  private readonly registry: ExecutorRegistry;
  private readonly assignment = new StickyAssignment();
  private readonly dispatcher: TaskDispatcher;
  private readonly logger: Logger;
  private server: grpc.Server | undefined;
  private stopping = false;
  private readonly stopController = new AbortController();
  private epoch = '';
  /** gRPC port the Driver service is bound to (known after {@link start}). */
  port = 0;

  constructor(
    private readonly settings: DriverJobSettings,
    private readonly config: SluiceConfig,
    private readonly deps: DriverDependencies
  ) {
    super();
    this.logger = deps.logger.child({ component: 'driver', job: settings.name });
    this.registry = new ExecutorRegistry(config.driver.heartbeatTimeoutMs, this.logger);
    this.dispatcher = new TaskDispatcher(
      this.registry,
      this.assignment,
      { job: settings.name, ...pick(config.driver, 'taskTimeoutMs', 'maxTaskFailures', 'retryBackoffMs', 'executorWaitMs') },
      this.logger
    );
  }

  /** Takes a new epoch (fencing every older driver) and opens the Driver service. */
  async start(): Promise<void> {
    this.epoch = await this.deps.store.takeEpoch();
    const { server, port } = await startDriverService(this.registry, {
      job: this.settings.name,
      epoch: this.epoch,
      heartbeatIntervalMs: this.config.executor.heartbeatIntervalMs,
      host: this.config.driver.host,
      port: this.config.driver.grpcPort,
    });
    this.server = server;
    this.port = port;
    this.logger.info({ epoch: this.epoch, port, topics: this.settings.topics }, 'driver started');
  }

  /** Asks the loop to stop after the batch in flight commits. */
  stop(): void {
    this.stopping = true;
    this.stopController.abort();
  }

  /** Runs batches until stopped, `driver.batches` are done, or (`driver.until = latest`) the backlog present at start is committed. */
  async run(): Promise<void> {
    const { batches: batchLimit, until } = this.config.driver;
    const interval = this.settings.batchIntervalMs;
    const stopAt = until === 'latest' ? await this.offsetsNow() : undefined;
    await this.registry.waitForExecutor(this.config.driver.executorWaitMs, this.config.driver.minExecutors);

    const store = this.deps.store;
    let done = 0;
    const pending = await store.readPlan();
    const nextId = (await store.lastCommittedBatchId()) + 1;
    if (pending && pending.id === nextId) {
      this.logger.warn({ batch: pending.id, plannedEpoch: pending.epoch }, 'replaying a planned but uncommitted batch');
      const replay: BatchPlan = { ...pending, epoch: this.epoch };
      const planStarted = performance.now();
      await store.writePlan(replay);
      await this.execute(replay, { schedulingDelayMs: 0, planMs: performance.now() - planStarted }, true);
      done++;
    }

    const startedAt = performance.now();
    for (let tick = 0; ; tick++) {
      if (this.stopping || (batchLimit > 0 && done >= batchLimit)) break;
      if (stopAt && (await this.reached(stopAt))) break;
      const dueAt = startedAt + tick * interval;
      const wait = dueAt - performance.now();
      if (wait > 0) await delay(wait, undefined, { signal: this.stopController.signal }).catch(() => undefined);
      if (this.stopping) break;
      const planStarted = performance.now();
      const time = Date.now() - Math.max(0, planStarted - dueAt);
      const plan = await this.plan(time, stopAt);
      const timing = { schedulingDelayMs: Math.max(0, planStarted - dueAt), planMs: performance.now() - planStarted };
      await this.execute(plan, timing, false);
      done++;
    }
    this.logger.info({ batches: done }, 'driver loop finished');
  }

  async close(): Promise<void> {
    this.stop();
    this.registry.close();
    await new Promise<void>((resolve) => (this.server ? this.server.tryShutdown(() => resolve()) : resolve()));
    this.server?.forceShutdown();
    await Promise.all([this.deps.oracle.close(), this.deps.store.close()]);
  }

  private async partitions(): Promise<TopicPartition[]> {
    return this.deps.oracle.listPartitions(this.settings.topics);
  }

  private async offsetsNow(): Promise<Map<string, bigint>> {
    return this.deps.oracle.latestOffsets(await this.partitions());
  }

  private async reached(stopAt: Map<string, bigint>): Promise<boolean> {
    const committed = await this.deps.store.readOffsets();
    return [...stopAt].every(([key, stop]) => (committed.get(key) ?? -1n) >= stop);
  }

  private async plan(time: number, stopAt: Map<string, bigint> | undefined): Promise<BatchPlan> {
    const partitions = await this.partitions();
    const [latest, earliest, checkpoint] = await Promise.all([
      this.deps.oracle.latestOffsets(partitions),
      this.deps.oracle.earliestOffsets(partitions),
      this.deps.store.readOffsets(),
    ]);
    const ranges = planRanges({
      partitions,
      checkpoint,
      latest,
      earliest,
      startingOffsets: this.settings.startingOffsets,
      maxRatePerPartition: this.settings.maxRatePerPartition,
      batchIntervalMs: this.settings.batchIntervalMs,
      stopAt,
    });
    this.assignment.rebalance(
      partitions.map(partitionKey),
      this.registry.alive().map((e) => e.id)
    );
    const plan: BatchPlan = { id: (await this.deps.store.lastCommittedBatchId()) + 1, epoch: this.epoch, time, ranges };
    // The plan is durable before any task leaves: a crash from here on replays exactly these ranges.
    await this.deps.store.writePlan(plan);
    return plan;
  }

  private async execute(plan: BatchPlan, timing: BatchTiming, replayed: boolean): Promise<void> {
    const started = performance.now();
    const work = plan.ranges.filter((r) => r.untilOffset > r.fromOffset);
    const settled = await Promise.allSettled(work.map((range) => this.dispatcher.run(plan, range)));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    // The batch stays planned: a restarted driver replays it with the same ranges.
    if (failure) throw failure.reason;
    const outcomes = settled.map((s) => (s as PromiseFulfilledResult<TaskOutcome>).value);
    const processingMs = performance.now() - started;
    const summary: BatchSummary = {
      id: plan.id,
      epoch: plan.epoch,
      time: plan.time,
      records: outcomes.reduce((n, o) => n + Number(o.result.records), 0),
      bytes: outcomes.reduce((n, o) => n + Number(o.result.bytes), 0),
      schedulingDelayMs: Math.round(timing.schedulingDelayMs),
      planMs: Math.round(timing.planMs),
      processingMs: Math.round(processingMs),
      totalDelayMs: Math.round(timing.schedulingDelayMs + timing.planMs + processingMs),
      ranges: outcomes.map((o) => ({
        topic: o.range.topic,
        partition: o.range.partition,
        from: String(o.range.fromOffset),
        until: String(o.range.untilOffset),
        records: Number(o.result.records),
        executor: o.executor,
        attempt: o.attempt,
        durationMs: o.result.total_ms,
      })),
    };
    const commitStarted = performance.now();
    await this.deps.store.commitBatch(plan, summary, this.config.driver.historySize);
    const event: BatchEvent = { summary, replayed, tasks: work.length, commitMs: Math.round(performance.now() - commitStarted) };
    this.logger.debug({ batch: plan.id, records: summary.records, tasks: work.length }, 'batch committed');
    this.emit('batch', event);
  }
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, source[k]])) as Pick<T, K>;
}
