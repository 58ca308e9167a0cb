import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import {
  createKafkajsGroupOffsetPublisher,
  LeaderLease,
  type CheckpointStore,
  partitionKey,
  type BatchPlan,
  type BatchSummary,
  type GroupOffsetPublisher,
  type Job,
  type Logger,
  type OffsetOracle,
  type SluiceConfig,
  type StartingOffsets,
  type TopicPartition,
} from '@sluice/common';
import { StickyAssignment } from './assignment';
import { startDriverService } from './driver-service';
import { GroupMirror } from './group-mirror';
import { DriverHttpServer, type ActiveBatch, type DriverState, type DriverView } from './http';
import { DriverMetrics } from './metrics';
import { OffsetsView } from './offsets-view';
import { planRanges } from './planner';
import { PidRateEstimator } from './rate-estimator';
import { ExecutorRegistry, type ExecutorInfo } from './registry';
import { TaskDispatcher, type TaskOutcome } from './task-dispatcher';

/** The job as the driver runs it: the module's settings with the configuration's overrides applied. */
export interface DriverJobSettings {
  name: string;
  topics: string[];
  startingOffsets: StartingOffsets;
  batchIntervalMs: number;
  maxRatePerPartition: number;
  minRatePerPartition: number;
  maxRecordsPerBatch: number;
  rateOverrides: Record<string, { maxRatePerPartition?: number; minRatePerPartition?: number }>;
  backpressure: boolean;
  initialRate: number;
}

export function resolveJobSettings(job: Job, config: SluiceConfig): DriverJobSettings {
  return {
    name: config.job.name ?? job.name,
    topics: config.job.topics ?? job.source.topics,
    startingOffsets: config.job.startingOffsets ?? job.source.startingOffsets ?? 'latest',
    batchIntervalMs: config.job.batchIntervalMs ?? job.batch?.intervalMs ?? 1000,
    maxRatePerPartition: config.job.maxRatePerPartition ?? job.batch?.maxRatePerPartition ?? 0,
    minRatePerPartition: config.job.minRatePerPartition ?? job.batch?.minRatePerPartition ?? 1,
    maxRecordsPerBatch: config.job.maxRecordsPerBatch ?? job.batch?.maxRecordsPerBatch ?? 0,
    rateOverrides: config.job.rateOverrides ?? job.batch?.rateOverrides ?? {},
    backpressure: config.job.backpressure ?? job.batch?.backpressure ?? false,
    initialRate: config.job.initialRate ?? job.batch?.initialRate ?? 0,
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
  /** How to reach the consumer group mirror (default: kafkajs with the driver's Kafka settings). */
  connectGroupPublisher?: () => Promise<GroupOffsetPublisher>;
}

/**
 * Plans, dispatches and commits batches, strictly one at a time, on a fixed grid of
 * `batchIntervalMs` (a batch due while the previous one still runs waits: its scheduling delay).
 * Emits `batch` (a {@link BatchEvent}) after each commit.
 */
export class Driver extends EventEmitter implements DriverView {
  private readonly registry: ExecutorRegistry;
  private readonly assignment = new StickyAssignment();
  private readonly rateEstimator: PidRateEstimator | undefined;
  private readonly dispatcher: TaskDispatcher;
  private readonly logger: Logger;
  private server: grpc.Server | undefined;
  private stopping = false;
  private readonly stopController = new AbortController();
  epoch = '';
  /** gRPC port the Driver service is bound to (known after {@link start}). */
  port = 0;
  /** URL of the HTTP server (known after {@link start}), e.g. `http://127.0.0.1:4040`. */
  httpUrl = '';
  readonly driverId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly metrics = new DriverMetrics();
  readonly offsets: OffsetsView;
  state: DriverState = 'waiting-for-executors';
  startedAt = Date.now();
  private readonly lease: LeaderLease;
  private readonly http: DriverHttpServer;
  private readonly mirror: GroupMirror | undefined;
  private active: ActiveBatch | undefined;

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
      this.logger,
      {
        taskFinished: (outcome) => {
          this.metrics.taskDuration.observe(outcome.result.total_ms / 1000);
          if (this.active) this.active.tasksDone++;
        },
        taskRetried: () => this.metrics.taskRetries.inc(),
      }
    );
    if (settings.backpressure) {
      this.rateEstimator = new PidRateEstimator({ ...config.backpressure, batchIntervalMs: settings.batchIntervalMs });
    }
    this.lease = new LeaderLease(deps.store, this.driverId, config.driver.leaseTtlMs, this.logger);
    this.offsets = new OffsetsView(deps.oracle, deps.store, settings.topics);
    this.http = new DriverHttpServer(this, this.logger);
    const group = config.driver.consumerGroup ?? `sluice-${settings.name}`;
    if (group !== '') {
      const connect = deps.connectGroupPublisher ?? (() => createKafkajsGroupOffsetPublisher(config.kafka, this.logger));
      this.mirror = new GroupMirror(group, connect, this.logger);
    }
  }

  get job(): string {
    return this.settings.name;
  }

  get topics(): string[] {
    return this.settings.topics;
  }

  get batchIntervalMs(): number {
    return this.settings.batchIntervalMs;
  }

  get historySize(): number {
    return this.config.driver.historySize;
  }

  get store(): CheckpointStore {
    return this.deps.store;
  }

  activeBatches(): ActiveBatch[] {
    return this.active ? [{ ...this.active, ranges: [...this.active.ranges] }] : [];
  }

  executors(): ExecutorInfo[] {
    return this.registry.describe();
  }

  /**
   * Takes the leader lease (failing with SLUICE_LEASE_HELD while another live driver holds it), a
   * new epoch (fencing every older driver), and opens the Driver service and the HTTP server.
   */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    await this.lease.acquire();
    this.metrics.leader.set(1);
    this.lease.startRenewing((owner) => {
      this.metrics.leader.set(0);
      this.logger.error({ holder: owner }, 'leader lease taken by another driver; stopping (its epoch fences this one)');
      this.stop();
    });
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
    this.httpUrl = await this.http.listen(this.config.driver.host, this.config.driver.httpPort);
    this.logger.info(
      {
        epoch: this.epoch,
        port,
        http: this.httpUrl,
        topics: this.settings.topics,
        driverId: this.driverId,
        consumerGroup: this.mirror?.groupId,
      },
      'driver started'
    );
    this.logger.info(`HTTP server (UI, API, metrics) at ${this.httpUrl}`);
  }

  /** Asks the loop to stop after the batch in flight commits. */
  stop(): void {
    this.stopping = true;
    if (this.state !== 'stopped') this.state = 'stopping';
    this.stopController.abort();
  }

  /** Runs batches until stopped, `driver.batches` are done, or (`driver.until = latest`) the backlog present at start is committed. */
  async run(): Promise<void> {
    const { batches: batchLimit, until } = this.config.driver;
    const interval = this.settings.batchIntervalMs;
    const stopAt = until === 'latest' ? await this.offsetsNow() : undefined;
    this.state = 'waiting-for-executors';
    await this.registry.waitForExecutor(this.config.driver.executorWaitMs, this.config.driver.minExecutors);
    if (!this.stopping) this.state = 'running';

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
    this.state = 'stopping';
    this.logger.info({ batches: done }, 'driver loop finished');
  }

  async close(): Promise<void> {
    this.stop();
    this.state = 'stopped';
    await this.mirror?.close();
    await this.http.close();
    await this.lease.release();
    this.metrics.leader.set(0);
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
      minRatePerPartition: this.settings.minRatePerPartition,
      maxRecordsPerBatch: this.settings.maxRecordsPerBatch,
      perPartition: this.settings.rateOverrides,
      // Under backpressure: the estimate, or `initialRate` until there is one (Spark's rule).
      estimatedRate: this.rateEstimator ? (this.rateEstimator.rate ?? this.settings.initialRate) : undefined,
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
    this.active = {
      id: plan.id,
      time: plan.time,
      schedulingDelayMs: Math.round(timing.schedulingDelayMs),
      tasksTotal: work.length,
      tasksDone: 0,
      ranges: work.map((r) => ({ topic: r.topic, partition: r.partition, from: String(r.fromOffset), until: String(r.untilOffset) })),
    };
    const settled = await Promise.allSettled(work.map((range) => this.dispatcher.run(plan, range)));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    // The batch stays planned: a restarted driver replays it with the same ranges.
    if (failure) {
      this.active = undefined;
      this.metrics.batches.inc({ outcome: 'failed' });
      throw failure.reason;
    }
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
    try {
      await this.deps.store.commitBatch(plan, summary, this.config.driver.historySize);
    } catch (e) {
      this.metrics.batches.inc({ outcome: 'failed' });
      throw e;
    } finally {
      this.active = undefined;
    }
    this.recordMetrics(summary);
    this.rateEstimator?.compute(summary.time, summary.records, summary.processingMs, summary.schedulingDelayMs);
    // Off the critical path: the next batch does not wait for Kafka's group coordinator.
    this.mirror?.publish(new Map(plan.ranges.map((r) => [partitionKey(r), r.untilOffset])));
    const event: BatchEvent = { summary, replayed, tasks: work.length, commitMs: Math.round(performance.now() - commitStarted) };
    this.logger.debug({ batch: plan.id, records: summary.records, tasks: work.length }, 'batch committed');
    this.emit('batch', event);
  }

  private recordMetrics(summary: BatchSummary): void {
    const m = this.metrics;
    m.batches.inc({ outcome: 'committed' });
    m.schedulingDelay.observe(seconds(summary.schedulingDelayMs));
    m.processing.observe(seconds(summary.processingMs));
    m.totalDelay.observe(seconds(summary.totalDelayMs));
    m.records.inc(summary.records);
    m.bytes.inc(summary.bytes);
  }
}

/** Applies to {@link Driver.recordMetrics}. */
function seconds(ms: number): number {
  return ms / 1000;
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, source[k]])) as Pick<T, K>;
}
