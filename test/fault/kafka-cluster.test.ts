import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { CLUSTER_BROKERS, clusterCli, clusterKafka, killBroker, restartBroker, startCluster } from '../helpers/cluster';
import { compareWithTopic, ContinuousProducer, topicValueCounts, waitForPhase } from '../helpers/fault';
import { assertRangesCoverFromZero } from '../helpers/invariants';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, history, redis, waitForCheckpoint } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(240_000);

const PARTITIONS = 4;

async function leaders(topic: string): Promise<Map<number, { leader: number; replicas: number[] }>> {
  const admin = clusterKafka().admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return new Map((topics[0]?.partitions ?? []).map((p) => [p.partitionId, { leader: p.leader, replicas: p.replicas }]));
  } finally {
    await admin.disconnect();
  }
}

async function clusterEndOffsets(topic: string): Promise<Record<string, string>> {
  const admin = clusterKafka().admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [`${topic}:${o.partition}`, o.offset]));
  } finally {
    await admin.disconnect();
  }
}

describe('Kafka failures on a 3-node KRaft cluster (RF 3, min ISR 2)', () => {
  let client: Redis;
  beforeAll(async () => {
    client = redis();
    await startCluster();
  });
  afterAll(() => client.quit());
  afterEach(killAll);

  /** Topic, continuous producer, driver and two executors against the cluster. */
  async function startJob(name: string): Promise<{ topic: string; producer: ContinuousProducer; driver: SluiceProcess }> {
    const topic = uniqueName(name);
    const admin = clusterKafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = new ContinuousProducer(CLUSTER_BROKERS, topic, PARTITIONS, name);
    producer.start();
    const env = { KAFKA_BROKERS: CLUSTER_BROKERS, SLUICE_KAFKA_REQUEST_TIMEOUT_MS: '5000' };
    const job = [...jobArgs('examples/audit', topic), '--batch-interval-ms', '500', '--starting-offsets', 'earliest'];
    const port = String(await freePort());
    const driver = sluice(['driver', ...job, '--grpc-port', port], { ...env, LOG_LEVEL: 'info' });
    for (const id of ['e1', 'e2']) sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', id], env);
    return { topic, producer, driver };
  }

  async function batchesCommitted(topic: string, atLeast: number): Promise<void> {
    await waitFor(async () => (await history(client, topic)).filter((b) => b.records > 0).length >= atLeast || undefined, {
      timeoutMs: 60_000,
      intervalMs: 100,
      label: `${atLeast} non-empty batches committed`,
    });
  }

  async function drainAndCheck(topic: string, producer: ContinuousProducer, driver: SluiceProcess): Promise<void> {
    await producer.stop();
    const ends = await clusterEndOffsets(topic);
    await waitForCheckpoint(client, topic, ends, { processes: [driver] });
    await waitForPhase(client, topic, 'idle');
    // Output = input: every record in the log counted exactly once (by value, with multiplicity)...
    expect(compareWithTopic(await auditCounts(client, topic), await topicValueCounts(CLUSTER_BROKERS, topic))).toEqual({
      duplicates: 0,
      lost: 0,
    });
    // (Not asserted: that every value kafkajs acknowledged is in the log. Around a preferred leader
    // election kafkajs 2.2 acknowledges sends that never reach the log, idempotent or not; the job
    // cannot count what is not there.)
    assertRangesCoverFromZero(await history(client, topic), ends);
    driver.kill('SIGTERM');
    expect((await driver.exit(30_000)).code).toBe(0);
  }

  it('a broker hard-bounced (SIGKILL, later restarted) while records are produced: tasks retry, the job continues, exactly once', async () => {
    const { topic, producer, driver } = await startJob('broker-bounce');
    await batchesCommitted(topic, 3);
    // The leader of partition 0: its loss forces a leader change under the job.
    const victim = (await leaders(topic)).get(0)?.leader as number;
    await killBroker(victim);
    const during = (await history(client, topic)).length;
    // The job keeps committing while the broker is down (leaders moved to the two others, min ISR 2 holds).
    await waitFor(async () => (await history(client, topic)).filter((b) => b.records > 0).length > during + 2 || undefined, {
      timeoutMs: 60_000,
      intervalMs: 100,
      label: 'batches committed with a broker down',
    }).catch((e: Error) => {
      throw new Error(`${e.message}\n${driver.stderr.slice(-3000)}`);
    });
    await restartBroker(victim);
    await batchesCommitted(topic, (await history(client, topic)).filter((b) => b.records > 0).length + 2);
    await drainAndCheck(topic, producer, driver);
  });

  it('partition leaders moved (reassignment + preferred leader election) while records are produced: exactly once', async () => {
    const { topic, producer, driver } = await startJob('leader-move');
    await batchesCommitted(topic, 3);
    const before = await leaders(topic);
    // Rotate every partition's replica list so that another broker becomes the preferred leader.
    const partitions = [...before].map(([partition, { leader, replicas }]) => {
      const rotated = [...replicas.filter((r) => r !== leader), leader];
      return { topic, partition, replicas: rotated };
    });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-reassign-'));
    const file = join(dir, 'reassign.json');
    writeFileSync(file, JSON.stringify({ version: 1, partitions }));
    await clusterCli(
      'tool',
      'org.apache.kafka.tools.reassign.ReassignPartitionsCommand',
      '--bootstrap-server',
      CLUSTER_BROKERS,
      '--reassignment-json-file',
      file,
      '--execute'
    );
    for (const p of [0, 1, 2, 3])
      await clusterCli(
        'tool',
        'org.apache.kafka.tools.LeaderElectionCommand',
        '--bootstrap-server',
        CLUSTER_BROKERS,
        '--election-type',
        'PREFERRED',
        '--topic',
        topic,
        '--partition',
        String(p)
      );
    await waitFor(
      async () => {
        const now = await leaders(topic);
        return [...before].every(([p, { leader }]) => now.get(p)?.leader !== leader) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, label: 'every partition led by another broker' }
    );
    const at = (await history(client, topic)).filter((b) => b.records > 0).length;
    await batchesCommitted(topic, at + 3);
    await drainAndCheck(topic, producer, driver);
  });
});
