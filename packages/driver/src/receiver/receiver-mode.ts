import { BlockLog, type CheckpointStore, type JobSettings, type Logger, type SluiceConfig } from '@sluice/common';
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
  return { tracker, batches, log };
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
