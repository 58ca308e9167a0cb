import {
  CheckpointStore,
  createKafkajsOffsetOracle,
  grpcSecurity,
  resolveJobSettings,
  type Job,
  type Logger,
  type SluiceConfig,
} from '@sluice/common';
import { Driver } from './driver';
import { checkSubscription } from './planning/subscription';

/**
 * Builds a driver after checking Kafka is reachable and every topic present. Redis is reached by
 * {@link Driver.start}, which waits for it with the HTTP server up (not ready meanwhile) and checks
 * its ACL user's permissions before writing anything.
 */
export async function createDriver(config: SluiceConfig, job: Job, logger: Logger): Promise<Driver> {
  const settings = resolveJobSettings(job, config);
  job.sink.useKafka?.(config.kafka, logger);
  // Certificate, key and token files first: an unreadable one fails before anything connects.
  const grpc = grpcSecurity(config.grpc);
  const oracle = await createKafkajsOffsetOracle(config.kafka, logger);
  try {
    await checkSubscription(oracle, settings.subscription);
    const store = CheckpointStore.open(config.redis, settings.name, { connectTimeoutMs: config.redis.connectTimeoutMs });
    return new Driver(settings, config, { oracle, store, logger, grpc, sink: job.sink });
  } catch (e) {
    await oracle.close();
    throw e;
  }
}
