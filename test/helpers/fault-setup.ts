import sharedInfra from './global-setup';

/**
 * The fault project uses the shared Kafka and Redis (KAFKA_BROKERS, REDIS_URL) for tests that kill
 * only sluice processes. Tests that restart brokers or Redis start their own (test/helpers/cluster.ts:
 * the 3-node KRaft cluster on 19092/19102/19112, Redis servers on free ports); the teardown stops
 * the cluster.
 */
export default function faultSetup(): void {
  sharedInfra();
}
