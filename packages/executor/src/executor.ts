import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  checkRedisAccess,
  CheckpointStore,
  createKafkajsOffsetOracle,
  createKafkajsRangeReader,
  grpcSecurity,
  readLeader,
  resolveJobSettings,
  type Job,
  type Logger,
  type RangeReader,
  type SluiceConfig,
} from '@sluice/common';
import type { Server } from 'node:http';
import { ExecutorMetrics, startMetricsServer } from './metrics';
import { DriverRegistration } from './registration';
import { ExecutorService } from './executor-service';
import { TaskRunner } from './task-runner';
import { LazyDeadLetterQueue } from './dead-letters';
import { createReceiverService } from './receiver/receiver-parts';
import type { ReceiverService } from './receiver/receiver-service';

/** What an executor is made of, for {@link Executor.close} to take apart. */
interface ExecutorParts {
  id: string;
  port: number;
  httpUrl: string;
  service: ExecutorService;
  registration: DriverRegistration;
  reader: RangeReader;
  store: CheckpointStore;
  logger: Logger;
  httpServer: Server;
  deadLetters: LazyDeadLetterQueue;
  /** The job's sink, whose connections (a database pool) close last. */
  sink: Job['sink'];
  shutdownTimeoutMs: number;
  /** Receiver mode: its receivers, stopped at shutdown. */
  receivers?: ReceiverService;
}

/**
 * One executor process: a pool of Kafka range readers (one per task slot), the Redis checkpoint
 * store its sinks commit through, the gRPC Executor service, and its registration with the driver.
 */
export class Executor {
  readonly id: string;
  /** The gRPC port. */
  readonly port: number;
  /** URL of the `/metrics` and `/healthz` server, e.g. `http://127.0.0.1:39127`. */
  readonly httpUrl: string;

  private constructor(private readonly parts: ExecutorParts) {
    this.id = parts.id;
    this.port = parts.port;
    this.httpUrl = parts.httpUrl;
  }

  static async start(config: SluiceConfig, job: Job, logger: Logger): Promise<Executor> {
    const settings = resolveJobSettings(job, config);
    const { name: jobName, subscription } = settings;
    const id = config.executor.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    const log = logger.child({ component: 'executor', job: jobName, executor: id });
    // Certificate, key and token files first: an unreadable one fails before anything connects.
    const grpc = grpcSecurity(config.grpc);
    const running = { tasks: (): number => 0 };
    const metrics = new ExecutorMetrics(() => running.tasks());
    // Health first: while it waits for Redis the executor is alive (/healthz) but not ready (/readyz).
    const readiness = { notReady: 'waiting for Redis' as string | undefined };
    const http = await startMetricsServer(metrics, config.executor.host, config.executor.httpPort, () => readiness.notReady);
    const store = CheckpointStore.open(config.redis, jobName, { connectTimeoutMs: config.redis.connectTimeoutMs });
    const failed = async (e: unknown): Promise<never> => {
      http.server.closeAllConnections();
      http.server.close();
      await store.close();
      throw e;
    };
    // Redis first: without it no task can commit. Started before Redis, the executor waits for it.
    await store.reach({ timeoutMs: config.redis.startupTimeoutMs, logger: log }).catch(failed);
    await checkRedisAccess(store, { role: 'executor', mode: config.source.mode, logger: log }).catch(failed);
    // Kafka too: a probe connection now, rather than a first task failing later.
    readiness.notReady = 'connecting to Kafka';
    await createKafkajsOffsetOracle(config.kafka, log)
      .then((oracle) => oracle.close())
      .catch(failed);
    const reader = createKafkajsRangeReader(config.kafka, config.executor.slots, log, {
      // A range of one chunk is one Fetch and one commit, where the Fetch weighs most.
      readAhead: config.executor.readAhead ? { maxRangeRecords: config.executor.maxChunkRecords } : undefined,
      onTakenAhead: (records) => metrics.readAheadRecords.inc(records),
    });
    job.sink.useKafka?.(config.kafka, log);
    const deadLetters = new LazyDeadLetterQueue(config, jobName);
    const poison = {
      policy: config.deadLetter.policy ?? job.onError ?? 'fail',
      // The driver gives up after driver.maxTaskFailures attempts: dead-letter no later than its last one.
      maxAttempts: Math.min(config.deadLetter.maxAttempts, config.driver.maxTaskFailures),
      maxRecordBytes: config.deadLetter.maxRecordBytes,
      deadLetter: (letters: Parameters<LazyDeadLetterQueue['add']>[0]) => deadLetters.add(letters),
    };
    const runner = new TaskRunner({
      job,
      jobName,
      reader,
      store,
      maxChunkRecords: config.executor.maxChunkRecords,
      logger: log,
      poison,
    });
    const receivers =
      config.source.mode === 'receiver'
        ? createReceiverService({ config, job, settings, executorId: id, store, poison, metrics, logger: log })
        : undefined;
    // Counted as committed, so that a task failing after some chunks does not leave them out.
    runner.onChunkCommitted = (records, bytes) => {
      metrics.records.inc(records);
      metrics.bytes.inc(bytes);
    };
    const service = new ExecutorService(
      runner,
      {
        executorId: id,
        job: jobName,
        host: config.executor.host,
        port: config.executor.grpcPort,
        slots: config.executor.slots,
        subscription,
        currentEpoch: () => store.currentEpoch(),
        checkInPlan: (batchId, range) => store.checkInPlan(batchId, range),
        security: grpc,
        receivers: receivers && ((slots) => receivers.handlers(slots)),
      },
      log,
      metrics
    );
    running.tasks = () => service.runningTasks;
    let port: number;
    try {
      port = await service.listen();
    } catch (e) {
      // Open connections would keep the process alive after the error is reported.
      await reader.close();
      return failed(e);
    }
    const registration = new DriverRegistration(
      {
        driverAddresses: config.executor.driver,
        findLeader: async () => (await readLeader(store.client, jobName))?.info?.grpcAddress,
        executorId: id,
        // The driver dials this address: a wildcard bind address (0.0.0.0) is not one it could reach.
        address: `${config.executor.advertiseHost ?? config.executor.host}:${port}`,
        slots: config.executor.slots,
        job: jobName,
        heartbeatIntervalMs: config.executor.heartbeatIntervalMs,
        runningTasks: () => service.runningTasks,
        security: grpc,
        onRegistered: (epoch) => receivers?.stopOlderThan(epoch),
      },
      log
    );
    registration.start();
    service.health.setStatus('', 'SERVING');
    readiness.notReady = undefined;
    log.info({ port, http: http.url, slots: config.executor.slots, driver: config.executor.driver }, 'executor started');
    return new Executor({
      id,
      port,
      httpUrl: http.url,
      service,
      registration,
      reader,
      store,
      logger: log,
      httpServer: http.server,
      deadLetters,
      sink: job.sink,
      shutdownTimeoutMs: config.executor.shutdownTimeoutMs,
      receivers,
    });
  }

  /**
   * Graceful shutdown (SIGTERM): stops taking tasks (new ones are refused, so the driver sends them
   * elsewhere), lets the running ones finish within `executor.shutdownTimeoutMs` (or until `now`
   * aborts) and hands back the rest, then deregisters, and closes connections. Deregistering comes
   * last: while tasks run, the driver keeps its channel and hears their results.
   */
  async close(now?: AbortSignal): Promise<{ finished: number; handedBack: number }> {
    const { service, registration, reader, store, logger, httpServer, deadLetters, sink, shutdownTimeoutMs, receivers } = this.parts;
    // Receivers first: blocks not yet reported are received again by their successors.
    receivers?.close();
    const running = service.runningTasks;
    if (running > 0) logger.info({ running, timeoutMs: shutdownTimeoutMs }, 'shutting down: finishing running tasks');
    const drained = await service.drain(shutdownTimeoutMs, now);
    if (drained.handedBack > 0) logger.warn(drained, 'shutting down: tasks still running were handed back to the driver');
    await registration.stop();
    await service.close();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    await reader.close();
    await deadLetters.close();
    await store.close();
    await sink.close?.();
    logger.info(drained, 'executor stopped');
    return drained;
  }
}
