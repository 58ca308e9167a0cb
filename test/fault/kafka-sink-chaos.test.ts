import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { uniqueName } from '../helpers/env';
import { chaosSeed, schedule, startSinkChaos } from '../helpers/chaos';
import { CLUSTER_BROKERS, clusterKafka, OwnRedis, restartBroker, startCluster } from '../helpers/cluster';
import { produceInBatches } from '../helpers/fault';
import { assertContiguous } from '../helpers/invariants';
import { consoleConsumerValues, groupOffsets, kcatValues, tally } from '../helpers/kafka';
import { jobArgs, killAll } from '../helpers/processes';
import { checkpoint, history } from '../helpers/redis';

/**
 * Chaos for kafkaSink: 300,000 unique records over 12 partitions of the 3-node cluster, copied by
 * test/jobs/kafka-audit.js to an output topic (one record per record) while a seeded schedule kills
 * (SIGKILL) and pauses (SIGSTOP/SIGCONT: zombies with an open transaction) drivers and executors at
 * chosen phases of a batch, and restarts brokers. Then heal, drain, and check: under read_committed
 * (kcat, and Kafka's Java console consumer) every id in the output exactly once, the job's
 * consumer group and the Redis checkpoint at the end offsets, ranges contiguous. SLUICE_CHAOS_SEED
 * replays a schedule; the summary is printed last.
 */
jest.setTimeout(420_000);

const PARTITIONS = 12;
const RECORDS = 300_000;
const FAULTS = Number(process.env.SLUICE_CHAOS_FAULTS ?? 12);
const KINDS = ['driver-kill', 'driver-pause', 'executor-kill', 'executor-pause', 'broker-restart'] as const;

/**
 * On failure: where duplicated ids sit in the output (partition@offset) and which input partitions
 * (id % 12) the lost ones come from, with the offsets of the first of them.
 */
async function whereInOutput(out: string, values: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    'kcat',
    ['-b', CLUSTER_BROKERS, '-C', '-t', out, '-e', '-q', '-f', '%p@%o %s\\n', '-X', 'isolation.level=read_committed'],
    { maxBuffer: 256 << 20 }
  );
  const at = new Map<string, string[]>();
  for (const line of stdout.split('\n').filter((l) => l !== '')) {
    const [where, id] = line.split(' ') as [string, string];
    at.set(id, [...(at.get(id) ?? []), where]);
  }
  const duplicated = [...at].filter(([, w]) => w.length > 1).slice(0, 10);
  const lost = values.filter((v) => !at.has(v));
  const byInput = new Map<number, number[]>();
  for (const v of lost) {
    const n = Number(v.slice(3));
    byInput.set(n % PARTITIONS, [...(byInput.get(n % PARTITIONS) ?? []), Math.floor(n / PARTITIONS)]);
  }
  return (
    `duplicated (id: where): ${duplicated.map(([id, w]) => `${id}: ${w.join(',')}`).join('; ')}\n` +
    `lost by input partition (count, first..last input offset): ${[...byInput].map(([p, o]) => `${p}: ${o.length} ${o[0]}..${o[o.length - 1]}`).join('; ')}\n`
  );
}

describe('kafkaSink chaos', () => {
  afterEach(killAll);

  it('copies 300,000 records exactly once under kills and pauses of drivers and executors at every batch phase and broker restarts', async () => {
    const seed = chaosSeed();
    process.stdout.write(`kafka sink chaos seed: ${seed}\n`);
    const faults = schedule(seed, FAULTS, KINDS);

    await startCluster();
    const redisServer = await OwnRedis.start();
    const client = redisServer.client();
    try {
      const topic = uniqueName('ks-chaos');
      const out = `${topic}-out`;
      const admin = clusterKafka().admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          { topic, numPartitions: PARTITIONS, replicationFactor: 3 },
          { topic: out, numPartitions: PARTITIONS, replicationFactor: 3 },
        ],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const values = Array.from({ length: RECORDS }, (_, i) => `ks-${i}`);
      await produceInBatches(CLUSTER_BROKERS, topic, values, PARTITIONS, 500);

      const env = {
        KAFKA_BROKERS: CLUSTER_BROKERS,
        REDIS_URL: redisServer.url,
        SLUICE_KAFKA_REQUEST_TIMEOUT_MS: '5000',
        KAFKA_AUDIT_OUT: out,
        // A paused executor's task moves after 10 s at most; its transaction is aborted when the
        // next attempt's producer takes the partition (or by the brokers after 60 s).
        SLUICE_DRIVER_TASK_TIMEOUT_MS: '10000',
        KAFKA_AUDIT_TXN_TIMEOUT_MS: '60000',
      };
      // 500 records/s per partition: the backlog lasts about 50 s, through most of the schedule.
      const job = [...jobArgs('test/jobs/kafka-audit.js', topic), '--batch-interval-ms', '500', '--max-rate-per-partition', '500'];
      const chaos = await startSinkChaos({ topic, client, job, env });

      const started = Date.now();
      const counted = await chaos.run(faults, (fault) => restartBroker(fault.target));
      const faultsDone = Date.now();

      const ends = await chaos.drain(topic, 120_000);
      chaos.stop();
      process.stdout.write(`kafka sink chaos: faults took ${faultsDone - started} ms, the drain ${Date.now() - faultsDone} ms\n`);
      const read = tally(await kcatValues(out, CLUSTER_BROKERS), values);
      process.stdout.write(
        `kafka sink chaos summary: seed=${seed} records=${RECORDS} faults={${KINDS.map((k) => `${k}:${counted[k] ?? 0}`).join(', ')}} ` +
          `read=${read.records} distinct=${read.distinct} duplicates=${read.duplicates} lost=${read.lost}\n`
      );
      if (read.duplicates > 0 || read.lost > 0) process.stdout.write(await whereInOutput(out, values));
      expect(read).toEqual({ records: RECORDS, distinct: RECORDS, duplicates: 0, lost: 0 });
      expect(tally(await consoleConsumerValues(out, CLUSTER_BROKERS, RECORDS), values)).toEqual(read);
      expect(await groupOffsets(`sluice-${topic}`, CLUSTER_BROKERS)).toEqual(ends);
      expect(await checkpoint(client, topic)).toEqual(ends);
      const reached = assertContiguous(await history(client, topic), Object.fromEntries(Object.keys(ends).map((k) => [k, '0'])));
      expect(reached).toEqual(ends);
    } finally {
      client.disconnect();
      await killAll();
      await redisServer.destroy();
    }
  });
});
