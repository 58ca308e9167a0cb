import { ConfigError } from '../errors';
import type { Job } from '../job/types';
import type { SluiceConfig } from './schema';

/** The consumer group receivers join: `driver.consumerGroup`, else `sluice-<job>` (as the direct approach's mirror). */
export function receiverGroupId(config: SluiceConfig, job: string): string {
  return config.driver.consumerGroup || `sluice-${job}`;
}

/**
 * What the receiver-based approach refuses in a job module (the configuration's own refusals are
 * in schema.ts): an explicit assignment, since receivers subscribe through a consumer group, and a
 * sink that keeps the job's offsets in its own store (postgresSink), since receiver mode has no
 * per-partition offsets to commit atomically with the output. The Redis sinks are accepted and
 * documented as at-least-once here: a block's output is applied once, but a block's records may
 * be received twice (docs/receiver-mode.md#semantics).
 * @throws ConfigError SLUICE_CONFIG_INVALID naming the setting.
 */
export function checkReceiverMode(job: Job, config: SluiceConfig): void {
  if (config.source.mode !== 'receiver') return;
  if (job.source.assign !== undefined && config.job.topics === undefined && config.job.pattern === undefined) {
    throw new ConfigError(
      `job '${job.name}': source.assign cannot be used with source.mode = receiver: receivers subscribe through a consumer group, which assigns partitions`,
      { key: 'source.mode' }
    );
  }
  const starting = config.job.startingOffsets ?? job.source.startingOffsets;
  if (typeof starting === 'object') {
    throw new ConfigError(
      `job '${job.name}': startingOffsets ${JSON.stringify(starting).slice(0, 200)} cannot be used with source.mode = receiver: a consumer group starts at 'earliest' or 'latest'`,
      { key: 'job.startingOffsets' }
    );
  }
  if (job.sink.committedOffsets !== undefined) {
    throw new ConfigError(
      `job '${job.name}': the ${job.sink.kind} sink keeps the job's offsets in its own store and cannot be used with source.mode = receiver`,
      { key: 'source.mode', sink: job.sink.kind }
    );
  }
}
