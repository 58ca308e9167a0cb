import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type * as grpc from '@grpc/grpc-js';
import {
  checkRedisAccess,
  createKafkajsGroupOffsetClient,
  grpcSecurity,
  isSluiceError,
  LeaderLease,
  LeaseLostError,
  readLeaseHolder,
  SluiceError,
  type CheckpointStore,
  type GroupOffsetClient,
  type GrpcSecurity,
  type JobSettings,
  type Logger,
  type OffsetOracle,
  type Sink,
  type SluiceConfig,
} from '@sluice/common';
import { startDriverService } from './api/driver-service';
import { GroupMirror } from './api/group-mirror';
import { DriverHttpServer, type ActiveBatch, type DriverState, type DriverView } from './api/http';
import { DriverMetrics } from './api/metrics';
import { BatchLoop, outageState } from './batch-loop';
import { BatchExecution } from './dispatch/batch-execution';
import { ExecutorRegistry, type ExecutorInfo } from './dispatch/registry';
import { TaskDispatcher } from './dispatch/task-dispatcher';
import { StickyAssignment } from './planning/assignment';
import { BatchPlanner } from './planning/batch-planner';
import { LagHistory, type LagSample } from './planning/lag';
import { OffsetsView } from './planning/offsets-view';
import { PidRateEstimator } from './planning/rate-estimator';
import { describeSubscription } from './planning/subscription';
import { createReceiverMode, type ReceiverMode } from './receiver/receiver-mode';
import type { ReceiverInfo } from './receiver/receiver-tracker';
import { followSinkOffsets } from './sink-offsets';

/** Owned by the driver from construction on: {@link Driver.close} closes them. */
export interface DriverDependencies {
  oracle: OffsetOracle;
  store: CheckpointStore;
  logger: Logger;
  /** How to reach the consumer group of the mirror, or of the receivers (default: kafkajs with the driver's Kafka settings). */
  connectGroupClient?: () => Promise<GroupOffsetClient>;
  /** gRPC credentials and options (default: built from `config.grpc`). */
  grpc?: GrpcSecurity;
  /** The job's sink: one that keeps offsets in its own store leads the checkpoint (see sink-offsets.ts). */
  sink?: Sink<unknown>;
}

/**
 * Plans, dispatches and commits batches, strictly one at a time, on a fixed grid of
 * `batchIntervalMs` (a batch due while the previous one still runs waits: its scheduling delay).
 * Emits `batch` (a `BatchEvent`) after each commit.
 */
export class Driver extends EventEmitter implements DriverView {
  private readonly registry: ExecutorRegistry;
  private readonly assignment = new StickyAssignment();
  private readonly rateEstimator: PidRateEstimator | undefined;
  private readonly dispatcher: TaskDispatcher;
  private readonly planner: BatchPlanner;
  private readonly execution: BatchExecution;
  private readonly logger: Logger;
  private server: grpc.Server | undefined;
  private stopping = false;
  private readonly stopController = new AbortController();
  /** Rejects once a stop request has waited `shutdownTimeoutMs` for the batch in flight. */
  private readonly shutdownExpired: Promise<never>;
  private expireShutdown: (e: SluiceError) => void = () => undefined;
  /** Why this driver stopped leading: another driver took the lease (it is fenced), or renewing it failed. */
  private leaseEnded: Error | undefined;
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
  /** The consumer group the job's sink commits its offsets to, if it does (then nothing is mirrored). */
  private readonly sinkGroup: string | undefined;
  /** Receiver mode (source.mode = receiver): receivers and batches of blocks. */
  private readonly receiverMode: ReceiverMode | undefined;

  constructor(
    private readonly settings: JobSettings,
    private readonly config: SluiceConfig,
    private readonly deps: DriverDependencies
  ) {
    super();
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
        stop: this.stopController.signal,
      },
      this.logger,
      {
        taskFinished: (outcome) => {
          this.metrics.taskDuration.observe(outcome.result.total_ms / 1000);
          const active = this.execution.active;
          if (active) active.tasksDone++;
          if (this.state.endsWith('-unavailable')) this.state = 'running';
        },
        taskRetried: () => this.metrics.taskRetries.inc(),
        taskSpeculated: () => this.metrics.speculativeTasks.inc(),
        taskGroupSent: () => this.metrics.taskGroups.inc(),
        dependencyDown: (e) => {
          if (this.state === 'running') this.state = outageState(e);
        },
      }
    );
    if (settings.backpressure) {
      this.rateEstimator = new PidRateEstimator({ ...config.backpressure, batchIntervalMs: settings.batchIntervalMs });
    }
    this.planner = new BatchPlanner(settings, {
      oracle: deps.oracle,
      store: deps.store,
      assignment: this.assignment,
      registry: this.registry,
      lags: this.lags,
      rateEstimator: this.rateEstimator,
      logger: this.logger,
    });
    this.lease = new LeaderLease(deps.store, this.driverId, config.driver.leaseTtlMs, this.logger);
    this.offsets = new OffsetsView({
      oracle: deps.oracle,
      partitions: async () => (await this.planner.resolve()).partitions,
      committed: (tps) => this.receiverMode?.groupOffsets(tps) ?? deps.store.readOffsets(),
    });
    this.http = new DriverHttpServer(this, this.logger);
    const group = config.driver.consumerGroup ?? `sluice-${settings.name}`;
    // A sink that commits the job's offsets to a consumer group (kafkaSink) is the authority there,
    // and that group already shows the progress: the mirror stays out of every group.
    this.sinkGroup = deps.sink?.requires?.consumerGroup?.(settings.name);
    // In receiver mode the receivers commit the group themselves.
    const connect = deps.connectGroupClient ?? (() => createKafkajsGroupOffsetClient(config.kafka, this.logger));
    if (group !== '' && this.sinkGroup === undefined && config.source.mode === 'direct') {
      this.mirror = new GroupMirror(group, connect, this.logger, config.driver.consumerGroupCommitIntervalMs);
    }
    this.execution = new BatchExecution(settings, config, {
      store: deps.store,
      dispatcher: this.dispatcher,
      metrics: this.metrics,
      rateEstimator: this.rateEstimator,
      mirror: this.mirror,
      logger: this.logger,
      committed: (event) => this.emit('batch', event),
    });
    if (config.source.mode === 'receiver') {
      this.receiverMode = createReceiverMode(settings, config, {
        store: deps.store,
        registry: this.registry,
        metrics: this.metrics,
        rateEstimator: this.rateEstimator,
        logger: this.logger,
        committed: (event) => this.emit('batch', event),
        connectGroupClient: connect,
      });
    }
  }

  /** Receiver mode's receivers ([] in the direct approach). */
  receivers(): ReceiverInfo[] {
    return this.receiverMode?.tracker.describe() ?? [];
  }

  get job(): string {
    return this.settings.name;
  }

  get topics(): string[] {
    return this.planner.topics;
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
    const active = this.execution.active ?? this.receiverMode?.batches.active;
    return active ? [{ ...active, ranges: [...active.ranges] }] : [];
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
    await checkRedisAccess(this.deps.store, { role: 'driver', mode: this.config.source.mode, logger: this.logger });
    const standby = this.config.driver.standby;
    this.state = standby ? 'standby' : 'waiting-for-executors';
    // Stopped while taking it (a standby whose leader stops beside it): close() gives it back.
    if (!(await this.lease.acquire(standby, signal)) || signal.aborted) return;
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
        consumerGroup: this.mirror?.groupId ?? this.sinkGroup,
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
    const { batches, until } = this.config.driver;
    this.receiverMode?.tracker.start(this.epoch);
    const loop = new BatchLoop(
      { epoch: this.epoch, batchIntervalMs: this.settings.batchIntervalMs, batches, until, signal: this.stopController.signal },
      {
        store: this.deps.store,
        oracle: this.deps.oracle,
        planner: this.planner,
        execution: this.execution,
        waitForExecutors: () =>
          this.registry.waitForExecutor(this.config.driver.executorWaitMs, this.config.driver.minExecutors, this.stopController.signal),
        setState: (state) => (this.state = state),
        followSink: async () =>
          followSinkOffsets(this.deps.sink, {
            store: this.deps.store,
            epoch: this.epoch,
            job: this.job,
            partitions: async () => (await this.planner.resolve()).partitions,
            logger: this.logger,
            signal: this.stopController.signal,
          }),
        blocks: this.receiverMode?.batches,
        logger: this.logger,
      }
    ).run();
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

  async close(): Promise<void> {
    this.stop();
    this.state = 'stopped';
    await this.receiverMode?.close();
    await this.deps.sink?.close?.();
    await this.mirror?.close();
    await this.http.close();
    await this.lease.release();
    this.registry.close();
    await new Promise<void>((resolve) => (this.server ? this.server.tryShutdown(() => resolve()) : resolve()));
    this.server?.forceShutdown();
    await Promise.all([this.deps.oracle.close(), this.deps.store.close()]);
  }
}

/** The host others reach this driver at: `advertiseHost`, else `host` unless it binds every interface (then the hostname). */
function advertisedHost({ host, advertiseHost }: SluiceConfig['driver']): string {
  const advertised = advertiseHost ?? (['0.0.0.0', '::', ''].includes(host) ? hostname() : host);
  return advertised.includes(':') ? `[${advertised}]` : advertised;
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, source[k]])) as Pick<T, K>;
}
