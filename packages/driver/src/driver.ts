import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import {
  abortableWait,
  asRedisOutage,
  createKafkajsGroupOffsetPublisher,
  CheckpointConflictError,
  checkRedisAccess,
  ConfigError,
  isDependencyOutage,
  isSluiceError,
  grpcSecurity,
  LeaderLease,
  LeaseLostError,
  readLeaseHolder,
  SluiceError,
  type CheckpointStore,
  partitionKey,
  type BatchPlan,
  type BatchSummary,
  type GroupOffsetPublisher,
  type GrpcSecurity,
  type Job,
  type Logger,
  type OffsetOracle,
  type OffsetRange,
  type RangeCount,
  type SluiceConfig,
  type StartingOffsets,
  type Sink,
  type TopicPartition,
} from '@sluice/common';
import { StickyAssignment } from './assignment';
import { startDriverService } from './driver-service';
import { GroupMirror } from './group-mirror';
import { DriverHttpServer, type ActiveBatch, type DriverState, type DriverView } from './http';
import { LagHistory, type LagSample } from './lag';
import { DriverMetrics } from './metrics';
import { OffsetsView } from './offsets-view';
import { isTimestamp, planBatch } from './planner';
import { followSinkOffsets } from './sink-offsets';
import { splitRanges } from './split';
import { SpeculationMonitor, type SpeculationSettings } from './speculation';
import { PidRateEstimator } from './rate-estimator';
import { ExecutorRegistry, type ExecutorInfo } from './registry';
import { TaskDispatcher, type TaskOutcome } from './task-dispatcher';
import {
  describeSubscription,
  resolveSubscription,
  resolveSubscriptionWithBounds,
  subscriptionOf,
  type Subscription,
} from './subscription';

/** The job as the driver runs it: the module's settings with the configuration's overrides applied. */
export interface DriverJobSettings {
  name: string;
  /** The topics of a list subscription or an assignment ([] for a pattern: see {@link Driver.topics}). */
  topics: string[];
  subscription: Subscription;
  /** Data loss (retention, a deleted or recreated topic): stop (true) or skip to earliest, counted (false). */
  failOnDataLoss: boolean;
  startingOffsets: StartingOffsets;
  batchIntervalMs: number;
  maxRatePerPartition: number;
  minRatePerPartition: number;
  maxRecordsPerBatch: number;
  rateOverrides: Record<string, { maxRatePerPartition?: number; minRatePerPartition?: number }>;
  backpressure: boolean;
  initialRate: number;
  /** Split ranges so a batch has at least this many tasks (0 = one task per partition). */
  minPartitions: number;
}

export function resolveJobSettings(job: Job, config: SluiceConfig): DriverJobSettings {
  return {
    name: config.job.name ?? job.name,
    ...subscriptionSettings(job, config),
    failOnDataLoss: config.job.failOnDataLoss ?? job.source.failOnDataLoss ?? true,
    startingOffsets: config.job.startingOffsets ?? job.source.startingOffsets ?? 'latest',
    batchIntervalMs: config.job.batchIntervalMs ?? job.batch?.intervalMs ?? 1000,
    maxRatePerPartition: config.job.maxRatePerPartition ?? job.batch?.maxRatePerPartition ?? 0,
    minRatePerPartition: config.job.minRatePerPartition ?? job.batch?.minRatePerPartition ?? 1,
    maxRecordsPerBatch: config.job.maxRecordsPerBatch ?? job.batch?.maxRecordsPerBatch ?? 0,
    rateOverrides: config.job.rateOverrides ?? job.batch?.rateOverrides ?? {},
    backpressure: config.job.backpressure ?? job.batch?.backpressure ?? false,
    initialRate: config.job.initialRate ?? job.batch?.initialRate ?? 0,
    minPartitions: config.job.minPartitions ?? job.batch?.minPartitions ?? 0,
  };
}

function subscriptionSettings(job: Job, config: SluiceConfig): { topics: string[]; subscription: Subscription } {
  const subscription = subscriptionOf(job.source, config.job);
  const topics =
    subscription.kind === 'topics' ? subscription.topics : subscription.kind === 'assign' ? Object.keys(subscription.assign) : [];
  return { topics, subscription };
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
  /** Bounded runs (`--until`): offsets done of the total present at start. */
  progress?: { done: number; total: number };
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
  /** gRPC credentials and options (default: built from `config.grpc`). */
  grpc?: GrpcSecurity;
  /** The job's sink: one that keeps offsets in its own store leads the checkpoint (see sink-offsets.ts). */
  sink?: Sink<unknown>;
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
  /** Rejects once a stop request has waited `shutdownTimeoutMs` for the batch in flight. */
  private readonly shutdownExpired: Promise<never>;
  private expireShutdown: (e: SluiceError) => void = () => undefined;
  /** Why this driver stopped leading: another driver took the lease (it is fenced), or renewing it failed. */
  private leaseEnded: Error | undefined;
  private readonly speculation: SpeculationSettings | undefined;
  epoch = '';
  /** gRPC port the Driver service is bound to (known after {@link start}). */
  port = 0;
  /** URL of the HTTP server (known after {@link start}), e.g. `http://127.0.0.1:4040`. */
  httpUrl = '';
  readonly driverId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly metrics: DriverMetrics;
  private readonly lags: LagHistory;
  readonly offsets: OffsetsView;
  state: DriverState = 'waiting-for-redis';
  startedAt = Date.now();
  private readonly lease: LeaderLease;
  private readonly grpc: GrpcSecurity;
  private readonly http: DriverHttpServer;
  private readonly mirror: GroupMirror | undefined;
  private active: ActiveBatch | undefined;
  /** Bounded runs: where each partition stops, started, and stands, for the progress report. */
  private bounded: { stopAt: Map<string, bigint>; start: Map<string, bigint>; reached: Map<string, bigint> } | undefined;
  /** Topics subscribed as of the last resolution (a pattern's grow as topics are created). */
  private currentTopics: string[];
  /** Deleted subscribed topics already warned about (failOnDataLoss = false), so each is logged once. */
  private readonly announcedMissing = new Set<string>();

  constructor(
    private readonly settings: DriverJobSettings,
    private readonly config: SluiceConfig,
    private readonly deps: DriverDependencies
  ) {
    super();
    this.currentTopics = settings.topics;
    this.metrics = new DriverMetrics(settings.batchIntervalMs);
    this.lags = new LagHistory(config.driver.historySize);
    this.shutdownExpired = new Promise<never>((_, reject) => (this.expireShutdown = reject));
    this.shutdownExpired.catch(() => undefined);
    this.logger = deps.logger.child({ component: 'driver', job: settings.name });
    this.grpc = deps.grpc ?? grpcSecurity(config.grpc);
    this.registry = new ExecutorRegistry(config.driver.heartbeatTimeoutMs, this.logger, this.grpc);
    this.dispatcher = new TaskDispatcher(
      this.registry,
      this.assignment,
      {
        job: settings.name,
        ...pick(config.driver, 'taskTimeoutMs', 'maxTaskFailures', 'retryBackoffMs', 'executorWaitMs', 'taskGroupRecords'),
      },
      this.logger,
      {
        taskFinished: (outcome) => {
          this.metrics.taskDuration.observe(outcome.result.total_ms / 1000);
          if (this.active) this.active.tasksDone++;
          if (this.state === 'redis-unavailable' || this.state === 'kafka-unavailable') this.state = 'running';
        },
        taskRetried: () => this.metrics.taskRetries.inc(),
        taskSpeculated: () => this.metrics.speculativeTasks.inc(),
        taskGroupSent: () => this.metrics.taskGroups.inc(),
        dependencyDown: (e) => {
          if (this.state === 'running') this.state = outageState(e);
        },
      }
    );
    const d = config.driver;
    if (d.speculation) {
      this.speculation = {
        multiplier: d.speculationMultiplier,
        quantile: d.speculationQuantile,
        minRuntimeMs: d.speculationMinRuntimeMs,
        intervalMs: d.speculationIntervalMs,
      };
    }
    if (settings.backpressure) {
      this.rateEstimator = new PidRateEstimator({ ...config.backpressure, batchIntervalMs: settings.batchIntervalMs });
    }
    this.lease = new LeaderLease(deps.store, this.driverId, config.driver.leaseTtlMs, this.logger);
    this.offsets = new OffsetsView(deps.oracle, deps.store, async () => (await this.resolve()).partitions);
    this.http = new DriverHttpServer(this, this.logger);
    const group = config.driver.consumerGroup ?? `sluice-${settings.name}`;
    if (group !== '') {
      const connect = deps.connectGroupPublisher ?? (() => createKafkajsGroupOffsetPublisher(config.kafka, this.logger));
      this.mirror = new GroupMirror(group, connect, this.logger, config.driver.consumerGroupCommitIntervalMs);
    }
  }

  get job(): string {
    return this.settings.name;
  }

  get topics(): string[] {
    return this.currentTopics;
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

  /** This driver holds the leader lease now (taken, and renewed within its TTL). */
  get leading(): boolean {
    return this.lease.held;
  }

  lagHistory(limit: number): LagSample[] {
    return this.lags.newest(limit);
  }

  /**
   * Opens the HTTP server, waits for Redis (`redis.startupTimeoutMs`; not ready meanwhile), checks
   * its ACL user may run every command the driver needs (failing with SLUICE_REDIS_NOPERM), takes
   * the leader lease (failing with SLUICE_LEASE_HELD while another live driver holds it, or, as a
   * standby, waiting until it lapses or {@link stop}), a new epoch (fencing every older driver), and
   * opens the Driver service. A standby binds no gRPC port: executors looking for the leader find
   * only the leader answering.
   */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.httpUrl = await this.http.listen(this.config.driver.host, this.config.driver.httpPort);
    this.logger.info(`HTTP server (UI, API, metrics) at ${this.httpUrl}`);
    const signal = this.stopController.signal;
    this.state = 'waiting-for-redis';
    if (!(await this.deps.store.reach({ timeoutMs: this.config.redis.startupTimeoutMs, signal, logger: this.logger }))) return;
    await checkRedisAccess(this.deps.store, 'driver', this.logger);
    const standby = this.config.driver.standby;
    this.state = standby ? 'standby' : 'waiting-for-executors';
    if (!(await this.lease.acquire(standby, signal))) return;
    const leadingSince = Date.now();
    this.epoch = await this.deps.store.takeEpoch();
    // Since the job's last commit, by whichever driver (its tasks committed about totalDelayMs after its time).
    const [last] = await this.deps.store.history(1);
    if (last) this.metrics.lastCommittedBatch.set((last.time + last.totalDelayMs) / 1000);
    this.lease.startRenewing(this.epoch, {
      lost: (owner) => {
        this.leaseEnded = new LeaseLostError(this.job, owner);
        this.logger.error({ holder: owner }, 'leader lease taken by another driver; stopping (its epoch fences this one)');
        this.stop();
      },
      failed: (e) => {
        this.leaseEnded = e;
        this.logger.error({ err: e.message }, 'leader lease cannot be renewed; stopping');
        this.stop();
      },
    });
    const { server, port } = await startDriverService(this.registry, {
      job: this.settings.name,
      epoch: this.epoch,
      heartbeatIntervalMs: this.config.executor.heartbeatIntervalMs,
      host: this.config.driver.host,
      port: this.config.driver.grpcPort,
      security: this.grpc,
    });
    this.server = server;
    this.port = port;
    // Executors looking for the leader, and standbys forwarding the UI and API, find it here.
    const host = advertisedHost(this.config.driver);
    await this.lease.publish({
      id: this.driverId,
      httpUrl: `http://${host}:${new URL(this.httpUrl).port}`,
      grpcAddress: `${host}:${port}`,
      epoch: this.epoch,
      since: leadingSince,
    });
    if (this.state === 'standby') this.state = 'waiting-for-executors';
    this.logger.info(
      {
        epoch: this.epoch,
        port,
        http: this.httpUrl,
        subscription: describeSubscription(this.settings.subscription),
        driverId: this.driverId,
        consumerGroup: this.mirror?.groupId,
      },
      standby ? 'driver started: leading (took over the lease)' : 'driver started'
    );
  }

  /**
   * Asks the loop to stop after the batch in flight commits; if that takes longer than
   * `driver.shutdownTimeoutMs` (default 10 × batch interval, as Spark), {@link run} fails with
   * SLUICE_SHUTDOWN_TIMEOUT and the batch stays planned for the next driver to replay.
   */
  stop(): void {
    if (!this.stopping) {
      const ms = this.config.driver.shutdownTimeoutMs ?? 10 * this.settings.batchIntervalMs;
      const timer = setTimeout(() => {
        this.expireShutdown(
          new SluiceError(
            'SLUICE_SHUTDOWN_TIMEOUT',
            `the batch in flight did not commit within ${ms} ms of the stop request (driver.shutdownTimeoutMs); ` +
              'it stays planned and the next driver replays it'
          )
        );
      }, ms);
      timer.unref();
    }
    this.stopping = true;
    if (this.state !== 'stopped') this.state = 'stopping';
    this.stopController.abort();
  }

  /**
   * Runs batches until stopped, `driver.batches` are done, or (`driver.until = latest`) the backlog
   * present at start is committed. Kafka or Redis going away pauses it (not ready) until they are
   * back; then the planned batch is replayed.
   */
  async run(): Promise<void> {
    if (this.epoch === '') return; // stopped before it led (waiting for Redis, or standing by)
    const loop = this.loop();
    try {
      await Promise.race([loop, this.shutdownExpired]);
    } catch (e) {
      loop.catch(() => undefined);
      throw await this.fencedAs(e);
    }
    if (this.leaseEnded !== undefined) throw this.leaseEnded;
  }

  /** A fenced epoch while another driver holds the lease means this one lost it (paused, cut off). */
  private async fencedAs(e: unknown): Promise<unknown> {
    if (this.leaseEnded !== undefined) return this.leaseEnded;
    if (!isSluiceError(e) || e.code !== 'SLUICE_FENCED') return e;
    const holder = await readLeaseHolder(this.deps.store.client, this.job).catch(() => null);
    return holder !== null && holder.owner !== this.driverId ? new LeaseLostError(this.job, holder.owner) : e;
  }

  private async loop(): Promise<void> {
    const { batches: batchLimit, until } = this.config.driver;
    const interval = this.settings.batchIntervalMs;
    const stopAt = until === 'none' ? undefined : await this.stopOffsets(until);
    if (stopAt) this.bounded = { stopAt, start: new Map(), reached: new Map() };
    this.state = 'waiting-for-executors';
    await this.registry.waitForExecutor(this.config.driver.executorWaitMs, this.config.driver.minExecutors);
    if (!this.stopping) this.state = 'running';

    let done = 0;
    // At start and after an outage, a batch planned but not committed is replayed first.
    let recovering = true;
    const startedAt = performance.now();
    for (let tick = 0; ; tick++) {
      if (this.stopping || (batchLimit > 0 && done >= batchLimit)) break;
      try {
        const { store, sink } = this.deps;
        const partitions = async (): Promise<TopicPartition[]> => (await this.resolve()).partitions;
        if (recovering)
          await followSinkOffsets(sink, {
            store,
            epoch: this.epoch,
            job: this.job,
            partitions,
            logger: this.logger,
            signal: this.stopController.signal,
          });
        if (recovering && (await this.replayPlanned())) {
          recovering = false;
          done++;
          continue;
        }
        recovering = false;
        if (stopAt && (await this.reached(stopAt))) break;
        const dueAt = startedAt + tick * interval;
        const wait = dueAt - performance.now();
        if (wait > 0) await abortableWait(wait, this.stopController.signal);
        if (this.stopping) break;
        const planStarted = performance.now();
        const time = Date.now() - Math.max(0, planStarted - dueAt);
        const plan = await this.plan(time, stopAt);
        const timing = { schedulingDelayMs: Math.max(0, planStarted - dueAt), planMs: performance.now() - planStarted };
        await this.execute(plan, timing, false);
        done++;
      } catch (e) {
        await this.waitOutOutage(e);
        recovering = true;
      }
    }
    this.state = 'stopping';
    this.logger.info({ batches: done }, 'driver loop finished');
  }

  /** Replays the planned batch if there is one not yet committed (planned by an earlier driver, or before an outage). */
  private async replayPlanned(): Promise<boolean> {
    const store = this.deps.store;
    const pending = await store.readPlan();
    if (!pending || pending.id !== (await store.lastCommittedBatchId()) + 1) return false;
    this.logger.warn({ batch: pending.id, plannedEpoch: pending.epoch }, 'replaying a planned but uncommitted batch');
    const replay: BatchPlan = { ...pending, epoch: this.epoch };
    const planStarted = performance.now();
    await store.writePlan(replay);
    await this.execute(replay, { schedulingDelayMs: 0, planMs: performance.now() - planStarted }, true);
    return true;
  }

  /**
   * Kafka or Redis unreachable: not ready, no planning, until it answers again (checked every second).
   * @throws `e` itself when it is not an outage, or when the driver is stopped meanwhile.
   */
  private async waitOutOutage(e: unknown): Promise<void> {
    const error = asRedisOutage(e);
    if (!isDependencyOutage(error) || this.stopping) throw error;
    const outage = error as SluiceError;
    const redis = outage.code === 'SLUICE_REDIS_UNAVAILABLE';
    this.state = outageState(outage);
    this.logger.error(
      { err: outage.message },
      `${redis ? 'Redis' : 'Kafka'} is unavailable: no batch is planned until it answers again; the planned batch is then replayed`
    );
    for (;;) {
      await abortableWait(1000, this.stopController.signal);
      if (this.stopping) throw outage;
      try {
        await (redis ? this.deps.store.client.ping() : this.deps.oracle.listTopics());
        break;
      } catch {
        // Still down.
      }
    }
    this.logger.warn(`${redis ? 'Redis' : 'Kafka'} answers again: resuming`);
    this.state = 'running';
  }

  async close(): Promise<void> {
    this.stop();
    this.state = 'stopped';
    await this.deps.sink?.close?.();
    await this.mirror?.close();
    await this.http.close();
    await this.lease.release();
    this.registry.close();
    await new Promise<void>((resolve) => (this.server ? this.server.tryShutdown(() => resolve()) : resolve()));
    this.server?.forceShutdown();
    await Promise.all([this.deps.oracle.close(), this.deps.store.close()]);
  }

  private async resolve(): Promise<{ partitions: TopicPartition[]; missing: string[] }> {
    const resolved = await resolveSubscription(this.deps.oracle, this.settings.subscription);
    this.currentTopics = resolved.topics;
    return resolved;
  }

  /**
   * Subscribed topics deleted while the job runs are data loss: they stop the job (failOnDataLoss)
   * or are left out of the batches, with a warning, until they come back.
   */
  private checkMissing(missing: string[], stopAt: Map<string, bigint> | undefined): void {
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
    // A bounded run does not wait for what can no longer be read.
    if (stopAt && missing.length > 0) {
      for (const key of [...stopAt.keys()]) {
        const topic = key.slice(0, key.lastIndexOf(':'));
        if (missing.includes(topic) || missing.includes(`${topic}-${key.slice(key.lastIndexOf(':') + 1)}`)) stopAt.delete(key);
      }
    }
  }

  /**
   * Where a bounded run stops, per partition: everything present at start (`latest`), the first
   * offset at or after a time, or explicit offsets (partitions not named are not read).
   */
  private async stopOffsets(until: Exclude<SluiceConfig['driver']['until'], 'none'>): Promise<Map<string, bigint>> {
    const { partitions } = await this.resolve();
    const latest = await this.deps.oracle.latestOffsets(partitions);
    if (until === 'latest') return latest;
    if (isTimestamp(until)) return this.deps.oracle.offsetsForTimes(partitions, BigInt(until.timestamp));
    const stops = new Map<string, bigint>();
    for (const tp of partitions) {
      const given = until[tp.topic]?.[String(tp.partition)];
      if (given === undefined) continue;
      const stop = BigInt(given);
      const end = latest.get(partitionKey(tp)) ?? 0n;
      if (stop > end) {
        throw new ConfigError(`'driver.until' stops ${partitionKey(tp)} at ${stop}, beyond its latest offset ${end}`);
      }
      stops.set(partitionKey(tp), stop);
    }
    return stops;
  }

  private async reached(stopAt: Map<string, bigint>): Promise<boolean> {
    const committed = await this.deps.store.readOffsets();
    return [...stopAt].every(([key, stop]) => (committed.get(key) ?? -1n) >= stop);
  }

  private async plan(time: number, stopAt: Map<string, bigint> | undefined): Promise<BatchPlan> {
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
    this.checkMissing(resolved.missing, stopAt);
    const { partitions, latest, earliest } = resolved;
    const starting = this.settings.startingOffsets;
    // Only the job's first batch uses the starting offsets (a pattern matching nothing yet leaves the
    // checkpoint empty: its first topic, created later, still starts at earliest, as in Spark).
    const firstBatch = checkpoint.size === 0 && lastCommitted === 0;
    const timestampOffsets =
      firstBatch && isTimestamp(starting) ? await this.deps.oracle.offsetsForTimes(partitions, BigInt(starting.timestamp)) : undefined;
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
      estimatedRate: this.rateEstimator ? (this.rateEstimator.rate ?? this.settings.initialRate) : undefined,
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
    this.assignment.rebalance(
      partitions.map(partitionKey),
      this.registry.alive().map((e) => e.id)
    );
    const plan: BatchPlan = { id: lastCommitted + 1, epoch: this.epoch, time, ranges };
    if (skips.length > 0) plan.skips = skips;
    this.lags.add(plan.id, time, ranges, latest);
    // The plan is durable before any task leaves: a crash from here on replays exactly these ranges.
    await this.deps.store.writePlan(plan);
    return plan;
  }

  private async execute(plan: BatchPlan, timing: BatchTiming, replayed: boolean): Promise<void> {
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
      this.dispatcher.runSmall(plan, small),
    ]).finally(() => speculation?.stop());
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    // The batch stays planned: a restarted driver replays it with the same ranges.
    if (failure) {
      this.active = undefined;
      this.metrics.batches.inc({ outcome: 'failed' });
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
      this.metrics.batches.inc({ outcome: 'failed' });
      throw e;
    } finally {
      this.active = undefined;
    }
    this.metrics.batchCommitted(plan, summary);
    // A replay's processing time holds only what its tasks did, not what an earlier driver's committed.
    const processed = replayed ? outcomes.reduce((n, o) => n + Number(o.result.records), 0) : summary.records;
    this.rateEstimator?.compute(summary.time, processed, summary.processingMs, summary.schedulingDelayMs);
    // Off the critical path: the next batch does not wait for Kafka's group coordinator.
    this.mirror?.publish(new Map(plan.ranges.map((r) => [partitionKey(r), r.untilOffset])));
    const event: BatchEvent = {
      summary,
      replayed,
      tasks: tasks.length,
      commitMs: Math.round(performance.now() - commitStarted),
      progress: this.progressAfter(plan),
    };
    this.logger.debug({ batch: plan.id, records: summary.records, tasks: work.length }, 'batch committed');
    this.emit('batch', event);
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

  /** Offsets done of the total a bounded run has to cover, counted from where each partition started. */
  private progressAfter(plan: BatchPlan): BatchEvent['progress'] {
    const b = this.bounded;
    if (!b) return undefined;
    for (const r of plan.ranges) {
      const key = partitionKey(r);
      if (!b.start.has(key)) b.start.set(key, r.fromOffset);
      b.reached.set(key, r.untilOffset);
    }
    let done = 0n;
    let total = 0n;
    for (const [key, stop] of b.stopAt) {
      const start = b.start.get(key) ?? stop;
      const reached = b.reached.get(key) ?? start;
      total += stop > start ? stop - start : 0n;
      done += reached > start ? (reached < stop ? reached : stop) - start : 0n;
    }
    return { done: Number(done), total: Number(total) };
  }

  /**
   * Runs the pieces of one partition's range at once; later pieces that finished before the ones
   * ahead of them left their output staged, and their stages are applied here, in offset order.
   */
  private async runPieces(plan: BatchPlan, pieces: OffsetRange[], speculation?: SpeculationMonitor): Promise<TaskOutcome[]> {
    const outcomes = await Promise.all(pieces.map((piece, index) => this.dispatcher.run(plan, piece, { piece: index, speculation })));
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

/** The host others reach this driver at: `advertiseHost`, else `host` unless it binds every interface (then the hostname). */
function advertisedHost({ host, advertiseHost }: SluiceConfig['driver']): string {
  const advertised = advertiseHost ?? (['0.0.0.0', '::', ''].includes(host) ? hostname() : host);
  return advertised.includes(':') ? `[${advertised}]` : advertised;
}

function outageState(e: SluiceError): 'redis-unavailable' | 'kafka-unavailable' {
  return e.code === 'SLUICE_REDIS_UNAVAILABLE' ? 'redis-unavailable' : 'kafka-unavailable';
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, source[k]])) as Pick<T, K>;
}
