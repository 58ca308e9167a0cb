import { uniqueName } from '../helpers/env';
import { CLUSTER_BROKERS, clusterKafka, OwnRedis, restartBroker, startCluster } from '../helpers/cluster';
import { ChaosProcesses, chaosSeed, schedule } from '../helpers/chaos';
import { compareWithTopic, ContinuousProducer, smallChunks, topicValueCounts } from '../helpers/fault';
import { assertContiguous } from '../helpers/invariants';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, history } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

/**
 * Chaos: records produced continuously while a seeded schedule kills (SIGKILL) and pauses
 * (SIGSTOP/SIGCONT) drivers (a leader and a standby, restarted after death) and executors
 * (restarted after death), each at a chosen phase of a batch, restarts a Kafka broker of the 3-node
 * cluster and Redis (AOF, fsync always). Then heal, drain, and check: every record of the topic
 * counted exactly once, checkpoint = end offsets, ranges contiguous. SLUICE_CHAOS_SEED replays a
 * schedule; the seed is printed first, the summary last.
 */
jest.setTimeout(420_000);

const PARTITIONS = 4;
const FAULTS = Number(process.env.SLUICE_CHAOS_FAULTS ?? 14);
const KINDS = ['driver-kill', 'driver-pause', 'executor-kill', 'executor-pause', 'broker-restart', 'redis-restart'] as const;

describe('chaos', () => {
  afterEach(killAll);

  it('exactly once under a seeded schedule of process kills and pauses at every batch phase, a broker restart and a Redis restart', async () => {
    const seed = chaosSeed();
    process.stdout.write(`chaos seed: ${seed}\n`);
    const faults = schedule(seed, FAULTS, KINDS);

    await startCluster();
    const redisServer = await OwnRedis.start();
    const client = redisServer.client();
    let producer: ContinuousProducer | undefined;
    try {
      const topic = uniqueName('chaos');
      const admin = clusterKafka().admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      producer = new ContinuousProducer(CLUSTER_BROKERS, topic, PARTITIONS, 'chaos', 20, 50);
      producer.start();

      const env = { KAFKA_BROKERS: CLUSTER_BROKERS, REDIS_URL: redisServer.url, SLUICE_KAFKA_REQUEST_TIMEOUT_MS: '5000' };
      const job = [
        ...jobArgs('test/jobs/slow-audit.js', topic),
        '--batch-interval-ms',
        '500',
        '--max-rate-per-partition',
        '400',
        '--starting-offsets',
        'earliest',
      ];
      const ports = [String(await freePort()), String(await freePort())];
      const driverEnv = { ...env, SLUICE_DRIVER_LEASE_TTL_MS: '2000', SLUICE_DRIVER_HEARTBEAT_TIMEOUT_MS: '4000' };
      const executorEnv = { ...env, SLOW_MS_PER_RECORD: '2', ...smallChunks(50) };
      const list = ports.map((p) => `127.0.0.1:${p}`).join(',');
      // Every driver is a standby: the first to find no lease leads, a restarted one waits.
      const chaos = new ChaosProcesses({
        job: topic,
        client,
        startDriver: (i) => sluice(['driver', ...job, '--grpc-port', ports[i] as string, '--standby'], driverEnv),
        startExecutor: (i) => sluice(['executor', ...job, '--driver', list, '--id', `e${i}`], executorEnv),
      });
      chaos.heal();
      await waitFor(async () => (await chaos.committedBatches()) >= 2 || undefined, { timeoutMs: 60_000, label: 'first batches' });

      const counted = await chaos.run(faults, async (fault) => {
        if (fault.kind === 'broker-restart') {
          await restartBroker(fault.target);
        } else {
          await redisServer.kill();
          await redisServer.start();
        }
      });

      await producer.stop();
      producer = undefined;
      const ends = await chaos.drain(topic, 90_000);
      const counts = await auditCounts(client, topic);
      const inTopic = await topicValueCounts(CLUSTER_BROKERS, topic);
      const result = compareWithTopic(counts, inTopic);
      const records = [...inTopic.values()].reduce((a, b) => a + b, 0);
      process.stdout.write(
        `chaos summary: seed=${seed} records=${records} faults={${KINDS.map((k) => `${k}:${counted[k] ?? 0}`).join(', ')}} ` +
          `duplicates=${result.duplicates} lost=${result.lost}\n`
      );
      expect(result).toEqual({ duplicates: 0, lost: 0 });
      expect(await checkpoint(client, topic)).toEqual(ends);
      const reached = assertContiguous(await history(client, topic), Object.fromEntries(Object.keys(ends).map((k) => [k, '0'])));
      expect(reached).toEqual(ends);
      chaos.stop();
    } finally {
      // A failed run must not leave the producer running: Jest would wait for it forever.
      await producer?.stop().catch(() => undefined);
      client.disconnect();
      await killAll();
      await redisServer.destroy();
    }
  });
});
