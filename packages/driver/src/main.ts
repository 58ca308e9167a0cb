import { CheckpointStore, createKafkajsOffsetOracle, grpcSecurity, type Job, type Logger, type SluiceConfig } from '@sluice/common';
import { Driver, resolveJobSettings } from './driver';
import { checkSubscription } from './subscription';

/**
 * Builds a driver after checking, in order, everything that can be wrong at start-up: Kafka
 * reachable, every topic present, Redis reachable. Nothing is written to Redis before all pass.
 */
export async function createDriver(config: SluiceConfig, job: Job, logger: Logger): Promise<Driver> {
  const settings = resolveJobSettings(job, config);
  // Certificate, key and token files first: an unreadable one fails before anything connects.
  const grpc = grpcSecurity(config.grpc);
  const oracle = await createKafkajsOffsetOracle(config.kafka, logger);
  try {
    await checkSubscription(oracle, settings.subscription);
    const store = await CheckpointStore.connect(config.redis, settings.name, { connectTimeoutMs: config.redis.connectTimeoutMs });
    return new Driver(settings, config, { oracle, store, logger, grpc });
  } catch (e) {
    await oracle.close();
    throw e;
  }
}
