import {
  BlockLog,
  createKafkajsGroupConsumer,
  receiverGroupId,
  type CheckpointStore,
  type Job,
  type JobSettings,
  type Logger,
  type SluiceConfig,
} from '@sluice/common';
import type { ExecutorMetrics } from '../metrics';
import type { PoisonSettings } from '../poison';
import { BlockStore } from './block-store';
import { BlockTaskRunner } from './block-task';
import { Receiver } from './receiver';
import { ReceiverService } from './receiver-service';

/**
 * An executor's receiver mode (source.mode = receiver): its receivers, their blocks in memory,
 * and the block task runner, behind the Receive and RunBlockTask calls.
 */
export function createReceiverService(options: {
  config: SluiceConfig;
  job: Job;
  settings: Pick<JobSettings, 'name' | 'subscription' | 'startingOffsets'>;
  executorId: string;
  store: CheckpointStore;
  poison: PoisonSettings;
  metrics: ExecutorMetrics;
  logger: Logger;
}): ReceiverService {
  const { config, settings, executorId, logger } = options;
  const log = new BlockLog(options.store.client, settings.name);
  const blocks = new BlockStore();
  const subscription = settings.subscription;
  const topics =
    subscription.kind === 'pattern'
      ? new RegExp(`^(?:${subscription.pattern})$`)
      : subscription.kind === 'topics'
        ? subscription.topics
        : [];
  const r = config.receiver;
  return new ReceiverService({
    executorId,
    job: settings.name,
    runner: new BlockTaskRunner({
      job: options.job,
      jobName: settings.name,
      log,
      store: blocks,
      poison: options.poison,
      logger,
      onBlockCommitted: (records, bytes) => {
        options.metrics.records.inc(records);
        options.metrics.bytes.inc(bytes);
      },
    }),
    logger,
    metrics: options.metrics,
    // A block the driver does not acknowledge within a task's timeout: the driver is gone.
    ackTimeoutMs: config.driver.taskTimeoutMs,
    createReceiver: (receiverId, maxRate, deps) =>
      new Receiver(
        {
          receiverId,
          executorId,
          blockIntervalMs: r.blockIntervalMs,
          queueBlocks: r.queueBlocks,
          maxRate,
          writeAheadLog: r.writeAheadLog ? { replicas: r.walReplicas, timeoutMs: r.walReplicaTimeoutMs } : undefined,
          fault: process.env.SLUICE_FAULT_RECEIVER_CRASH,
        },
        {
          ...deps,
          log,
          store: blocks,
          logger: logger.child({ receiver: receiverId }),
          consumer: (handlers) =>
            createKafkajsGroupConsumer(config.kafka, {
              groupId: receiverGroupId(config, settings.name),
              topics,
              fromBeginning: settings.startingOffsets === 'earliest',
              ...handlers,
              logger: logger.child({ receiver: receiverId }),
            }),
        }
      ),
  });
}
