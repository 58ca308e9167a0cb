import type { Job } from '../job/types';
import { subscriptionOf, type Subscription } from '../job/subscription';
import { checkReceiverMode } from './receiver-mode';
import { checkSinkSettings } from './sink-settings';
import type { SluiceConfig, StartingOffsets } from './schema';

/**
 * The job as it runs: the module's settings with the configuration's overrides applied. Resolved
 * here only, so the driver, the executors and the CLI agree on the job's name and subscription.
 */
export interface JobSettings {
  name: string;
  /** The topics of a list subscription or an assignment ([] for a pattern: the driver resolves it per batch). */
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

/** @throws ConfigError when the job's sink or source mode cannot run with these settings. */
export function resolveJobSettings(job: Job, config: SluiceConfig): JobSettings {
  checkReceiverMode(job, config);
  const settings: JobSettings = {
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
  checkSinkSettings(job.sink, settings, config.driver);
  return settings;
}

function subscriptionSettings(job: Job, config: SluiceConfig): { topics: string[]; subscription: Subscription } {
  const subscription = subscriptionOf(job.source, config.job);
  const topics =
    subscription.kind === 'topics' ? subscription.topics : subscription.kind === 'assign' ? Object.keys(subscription.assign) : [];
  return { topics, subscription };
}
