import {
  BlockLog,
  receiverGroupId,
  type CheckpointStore,
  type GroupOffsetClient,
  type JobSettings,
  type Logger,
  type SluiceConfig,
  type TopicPartition,
} from '@sluice/common';
import type { DriverMetrics } from '../api/metrics';
import type { BatchEvent } from '../dispatch/batch-execution';
import type { ExecutorRegistry } from '../dispatch/registry';
import type { PidRateEstimator } from '../planning/rate-estimator';
import { BlockBatches } from './block-batches';
import { registerReceiverMetrics } from './receiver-metrics';
import { ReceiverTracker } from './receiver-tracker';

/** The driver's receiver mode (source.mode = receiver): its receivers and its batches of blocks. */
export interface ReceiverMode {
  tracker: ReceiverTracker;
  batches: BlockBatches;
  log: BlockLog;
  /**
   * The receivers' consumer group offsets of `tps` (what they received, and logged with the
   * write-ahead log on): the progress the driver's offsets and lag views show in this mode.
   */
  groupOffsets(tps: TopicPartition[]): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}

export function createReceiverMode(
  settings: JobSettings,
  config: SluiceConfig,
  deps: {
    store: CheckpointStore;
    registry: ExecutorRegistry;
    metrics: DriverMetrics;
    rateEstimator: PidRateEstimator | undefined;
    logger: Logger;
    committed(event: BatchEvent): void;
    /** A connection for reading the receivers' group offsets, made on first use (again after a failure). */
    connectGroupClient: () => Promise<GroupOffsetClient>;
  }
): ReceiverMode {
  const r = config.receiver;
  const logger = deps.logger.child({ mode: 'receiver' });
  const log = new BlockLog(deps.store.client, settings.name);
  const tracker = new ReceiverTracker(
    { job: settings.name, count: r.count, restartDelayMs: r.restartDelayMs, maxRate: r.maxRate },
    { registry: deps.registry, log, logger }
  );
  const lost = registerReceiverMetrics(deps.metrics.registry, tracker, log, r.writeAheadLog);
  const batches = new BlockBatches(
    { job: settings.name, historySize: config.driver.historySize, ...pick(config.driver) },
    {
      log,
      store: deps.store,
      registry: deps.registry,
      tracker,
      metrics: deps.metrics,
      rateEstimator: deps.rateEstimator,
      logger,
      committed: (event) => deps.committed(event),
      blocksLost: (blocks) => {
        lost.blocksLost.inc(blocks.length);
        lost.recordsLost.inc(blocks.reduce((n, b) => n + b.records, 0));
      },
    }
  );
  const group = receiverGroupId(config, settings.name);
  let client: Promise<GroupOffsetClient> | undefined;
  return {
    tracker,
    batches,
    log,
    async groupOffsets(tps) {
      client ??= deps.connectGroupClient().catch((e: unknown) => {
        client = undefined;
        throw e;
      });
      return (await client).fetch(group, tps);
    },
    async close() {
      tracker.stop();
      const connected = client;
      client = undefined;
      await connected?.then((c) => c.close()).catch(() => undefined);
    },
  };
}

function pick(d: SluiceConfig['driver']): {
  taskTimeoutMs: number;
  maxTaskFailures: number;
  retryBackoffMs: number;
  executorWaitMs: number;
} {
  return {
    taskTimeoutMs: d.taskTimeoutMs,
    maxTaskFailures: d.maxTaskFailures,
    retryBackoffMs: d.retryBackoffMs,
    executorWaitMs: d.executorWaitMs,
  };
}
