import { uniqueName } from '../helpers/env';
import { chaosSeed, schedule, startSinkChaos } from '../helpers/chaos';
import { CLUSTER_BROKERS, clusterKafka, OwnRedis, startCluster } from '../helpers/cluster';
import { produceInBatches } from '../helpers/fault';
import { assertContiguous } from '../helpers/invariants';
import { auditTable, OwnPostgres, sinkOffsets, uniqueSchema } from '../helpers/postgres';
import { jobArgs, killAll } from '../helpers/processes';
import { checkpoint, history } from '../helpers/redis';

/**
 * Chaos for postgresSink: 300,000 unique records over 12 partitions of the 3-node cluster, written
 * by test/jobs/pg-audit.js (one row per record) while a seeded schedule kills (SIGKILL) and pauses
 * (SIGSTOP/SIGCONT: zombies holding their transaction) drivers and executors at chosen phases of a
 * batch, and restarts Postgres. Then heal, drain, and check: every id in the table exactly once
 * (count(*) = count(distinct id) = produced), the sink's offsets and the Redis checkpoint at the end
 * offsets, ranges contiguous. SLUICE_CHAOS_SEED replays a schedule; the summary is printed last.
 */
jest.setTimeout(420_000);

const PARTITIONS = 12;
const RECORDS = 300_000;
const FAULTS = Number(process.env.SLUICE_CHAOS_FAULTS ?? 12);
const KINDS = ['driver-kill', 'driver-pause', 'executor-kill', 'executor-pause', 'postgres-restart'] as const;

describe('postgresSink chaos', () => {
  afterEach(killAll);

  it('writes 300,000 records exactly once under kills and pauses of drivers and executors at every batch phase and a Postgres restart', async () => {
    const seed = chaosSeed();
    process.stdout.write(`postgres chaos seed: ${seed}\n`);
    const faults = schedule(seed, FAULTS, KINDS);

    await startCluster();
    const redisServer = await OwnRedis.start();
    const postgres = await OwnPostgres.start();
    const client = redisServer.client();
    try {
      const topic = uniqueName('pg-chaos');
      const schema = uniqueSchema('chaos');
      const admin = clusterKafka().admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const values = Array.from({ length: RECORDS }, (_, i) => `pg-${i}`);
      await produceInBatches(CLUSTER_BROKERS, topic, values, PARTITIONS, 500);

      const env = {
        KAFKA_BROKERS: CLUSTER_BROKERS,
        REDIS_URL: redisServer.url,
        SLUICE_KAFKA_REQUEST_TIMEOUT_MS: '5000',
        SLUICE_PG_URL: postgres.url,
        PG_AUDIT_SCHEMA: schema,
        // A paused executor's transaction ends 3 s after it went idle: its locks do not hold the others up longer.
        PG_AUDIT_IDLE_TIMEOUT_MS: '3000',
      };
      // 500 records/s per partition: the backlog lasts about 100 s, through the whole schedule.
      const job = [...jobArgs('test/jobs/pg-audit.js', topic), '--batch-interval-ms', '500', '--max-rate-per-partition', '500'];
      const chaos = await startSinkChaos({ topic, client, job, env });

      const counted = await chaos.run(faults, () => {
        postgres.down();
        postgres.up();
      });

      const ends = await chaos.drain(topic, 120_000);
      const table = await auditTable(schema, values, postgres.url);
      process.stdout.write(
        `postgres chaos summary: seed=${seed} records=${RECORDS} faults={${KINDS.map((k) => `${k}:${counted[k] ?? 0}`).join(', ')}} ` +
          `rows=${table.rows} distinct=${table.distinct} duplicates=${table.duplicates} lost=${table.lost}\n`
      );
      expect(table).toEqual({ rows: RECORDS, distinct: RECORDS, duplicates: 0, lost: 0 });
      expect(await sinkOffsets(schema, topic, postgres.url)).toEqual(ends);
      expect(await checkpoint(client, topic)).toEqual(ends);
      const reached = assertContiguous(await history(client, topic), Object.fromEntries(Object.keys(ends).map((k) => [k, '0'])));
      expect(reached).toEqual(ends);
      chaos.stop();
    } finally {
      client.disconnect();
      await killAll();
      await redisServer.destroy();
      postgres.destroy();
    }
  });
});
