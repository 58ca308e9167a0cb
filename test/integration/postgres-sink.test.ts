import type Redis from 'ioredis';
import { postgresSink, type ChunkCommitter, type CommitOutcome, type ProcessContext, type Sink } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { auditTable, dropSchema, OwnPostgres, pgUrl, sinkOffsets, uniqueSchema, withPg } from '../helpers/postgres';
import { jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { driverWithExecutor, isStopped, killLeader, recoverFromLostRedisCommit } from '../helpers/sink-faults';
import { checkpoint, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(180_000);

const JOB = 'test/jobs/pg-audit.js';
/** Short leases and heartbeats: the tests kill drivers and stop executors and wait for takeovers. */
const fastFailover = { SLUICE_DRIVER_LEASE_TTL_MS: '1500', SLUICE_DRIVER_HEARTBEAT_TIMEOUT_MS: '2000' };

/** `sluice run` of the pg-audit job until everything present at start is committed. */
function runUntilLatest(topic: string, env: NodeJS.ProcessEnv, extra: string[] = []): SluiceProcess {
  return sluice(['run', ...jobArgs(JOB, topic), '--executors', '2', '--until', 'latest', '--batch-interval-ms', '200', ...extra], env);
}

describe('postgresSink', () => {
  let client: Redis;
  const schemas: string[] = [];
  const schemaFor = (prefix: string): string => {
    const schema = uniqueSchema(prefix);
    schemas.push(schema);
    return schema;
  };
  /** A topic holding `count` unique values over `partitions`, and a schema for the job's tables. */
  const backlog = async (
    prefix: string,
    partitions: number,
    count: number
  ): Promise<{ topic: string; schema: string; values: string[] }> => {
    const topic = uniqueName(`pg-${prefix}`);
    await createTopic(topic, partitions);
    const values = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    await produceValues(topic, values, partitions);
    return { topic, schema: schemaFor(`sink_${prefix}`), values };
  };
  /** Every value in the audit table once; the sink's offsets and the Redis checkpoint at the end offsets. */
  const expectExactlyOnce = async (
    { topic, schema, values }: { topic: string; schema: string; values: string[] },
    url = pgUrl()
  ): Promise<void> => {
    const n = values.length;
    expect(await auditTable(schema, values, url)).toEqual({ rows: n, distinct: n, duplicates: 0, lost: 0 });
    const ends = await endOffsets(topic);
    expect(await sinkOffsets(schema, topic, url)).toEqual(ends);
    expect(await checkpoint(client, topic)).toEqual(ends);
  };
  beforeAll(() => (client = redis()));
  afterAll(async () => {
    await client.quit();
    for (const schema of schemas) await dropSchema(schema);
  });
  afterEach(killAll);

  it('writes 30,000 records over 6 partitions exactly once; the sink offsets and the checkpoint equal the end offsets', async () => {
    const job = await backlog('eo', 6, 30_000);
    const { topic, schema } = job;

    await runUntilLatest(topic, { PG_AUDIT_SCHEMA: schema }, ['--max-rate-per-partition', '10000']).succeeds(120_000);

    await expectExactlyOnce(job);
  });

  it('after a crash between the Postgres commit and the Redis one, the next leader moves Redis forward and nothing is written twice', async () => {
    const job = await backlog('crash', 2, 2000);
    const { topic, schema } = job;
    const env = { PG_AUDIT_SCHEMA: schema, ...fastFailover };
    const { driver, executor } = await driverWithExecutor(JOB, topic, env, { PG_AUDIT_KILL_AFTER_COMMIT: '1' });
    // The executor killed itself right after its first Postgres COMMIT: Postgres is ahead of Redis.
    expect((await executor.exit(60_000)).signal).toBe('SIGKILL');
    const committed = await sinkOffsets(schema, topic);
    await recoverFromLostRedisCommit({ driver, client, topic, committed, sink: 'postgres', run: () => runUntilLatest(topic, env) });
    await expectExactlyOnce(job);
  });

  it('a zombie executor stopped mid-transaction commits nothing once its task moved to a new epoch', async () => {
    const job = await backlog('zombie', 1, 500);
    const { topic, schema } = job;
    // Postgres ends the zombie's transaction after 2 s idle: its locks go, and its writes with them.
    const env = { PG_AUDIT_SCHEMA: schema, PG_AUDIT_IDLE_TIMEOUT_MS: '2000', ...fastFailover };
    const { driver, executor: zombie } = await driverWithExecutor(JOB, topic, env, { PG_AUDIT_STOP_IN_WRITE: '1' });
    // Stopped by itself after inserting its rows, holding the fence row FOR SHARE, before the offset moved.
    await waitFor(() => isStopped(zombie.pid), { timeoutMs: 60_000, label: 'the executor stopped inside its transaction' });
    await killLeader(driver, client, topic);

    // A new driver (a new epoch) runs the range on new executors while the zombie sleeps.
    await runUntilLatest(topic, env).succeeds(90_000);
    await expectExactlyOnce(job);
    expect(await withPg(async (c) => (await c.query<{ epoch: string }>(`SELECT epoch FROM "${schema}".fence`)).rows)).toEqual([
      { epoch: '2' },
    ]);

    zombie.kill('SIGCONT');
    // Its session was ended by Postgres: the rest of its transaction fails, nothing of it commits.
    await zombie.waitForOutput(/SLUICE_SINK_UNAVAILABLE|Connection terminated|idle-in-transaction/, 30_000);
    await expectExactlyOnce(job);
  });

  it('Postgres going down fails commits with SLUICE_SINK_UNAVAILABLE; they are retried and nothing is lost once it is back', async () => {
    const own = await OwnPostgres.start();
    try {
      const job = await backlog('down', 2, 4000);
      const { topic, schema } = job;
      const run = runUntilLatest(topic, { PG_AUDIT_SCHEMA: schema, SLUICE_PG_URL: own.url }, ['--max-rate-per-partition', '1000']);
      await waitFor(async () => (await withPg((c) => c.query(`SELECT 1 FROM "${schema}".audit LIMIT 1`), own.url)).rowCount === 1, {
        timeoutMs: 60_000,
        label: 'the first rows written',
      });
      own.down();
      await run.waitForOutput(
        /\[SLUICE_SINK_UNAVAILABLE\] postgresSink: Postgres at postgres:\/\/\[redacted\]@127\.0\.0\.1:\d+\/postgres is unavailable/
      );
      own.up();
      await run.succeeds(120_000);
      await expectExactlyOnce(job, own.url);
    } finally {
      own.destroy();
    }
  });

  it('examples/pg-word-count keeps exact per-word counts in its table', async () => {
    const topic = uniqueName('pg-words');
    const schema = schemaFor('sink_words');
    await withPg((c) => c.query(`CREATE SCHEMA "${schema}"`));
    await createTopic(topic, 3);
    const lines = Array.from({ length: 3000 }, (_, i) => `the sluice ${i % 2 === 0 ? 'gate' : 'Gate opens'}`);
    await produceValues(topic, lines, 3);

    // Its table goes to the test's schema (the job names it unqualified).
    const env = { PGOPTIONS: `-c search_path=${schema}` };
    await sluice(['run', ...jobArgs('examples/pg-word-count', topic), '--executors', '2', '--until', 'latest'], env).succeeds(90_000);
    const counts = await withPg(
      async (c) => (await c.query<{ word: string; count: string }>(`SELECT word, count FROM "${schema}".word_counts ORDER BY word`)).rows
    );
    expect(counts).toEqual([
      { word: 'gate', count: '3000' },
      { word: 'opens', count: '1500' },
      { word: 'sluice', count: '3000' },
      { word: 'the', count: '3000' },
    ]);
  });

  describe('one chunk, with a committer standing in for the checkpoint store', () => {
    const job = 'chunks';
    const context = (fromOffset: bigint, untilOffset: bigint): ProcessContext =>
      ({ job, batchId: 1, topic: 't', partition: 0, fromOffset, untilOffset, attempt: 0, logger: undefined }) as unknown as ProcessContext;
    /** Records the Redis side's calls: commit (the chunk's `until`) and commitUpTo. */
    const committer = (fromOffset: bigint, untilOffset: bigint, epoch = '1'): ChunkCommitter & { calls: string[] } => {
      const calls: string[] = [];
      const committed = (until: bigint): Promise<CommitOutcome> => {
        calls.push(`redis ${fromOffset}->${until}`);
        return Promise.resolve({ status: 'committed' });
      };
      return {
        context: context(fromOffset, untilOffset),
        epoch,
        calls,
        commit: () => committed(untilOffset),
        commitUpTo: committed,
      };
    };
    let schema: string;
    let sink: Sink<string>;
    const rows = async (): Promise<string[]> =>
      withPg(async (c) => (await c.query<{ id: string }>(`SELECT id FROM "${schema}".items ORDER BY id`)).rows.map((r) => r.id));
    beforeAll(async () => {
      schema = schemaFor('sink_chunks');
      await withPg(async (c) => {
        await c.query(`CREATE SCHEMA "${schema}"`);
        await c.query(`CREATE TABLE "${schema}".items (id text)`);
      });
      sink = postgresSink<string>({
        connectionString: pgUrl(),
        schema,
        write: async (client, ids) => {
          await client.query(`INSERT INTO "${schema}".items SELECT unnest($1::text[])`, [ids]);
        },
      });
    });
    // Undefined when the setup failed.
    afterAll(() => (sink as Sink<string> | undefined)?.close?.());

    it('commits, then finds a repeat already committed (nothing written), and moves Redis forward both times', async () => {
      const first = committer(0n, 2n);
      expect(await sink.commit(['a', 'b'], first)).toEqual({ status: 'committed' });
      const repeat = committer(0n, 2n);
      expect(await sink.commit(['a', 'b'], repeat)).toEqual({ status: 'committed' });
      expect([first.calls, repeat.calls, await rows()]).toEqual([['redis 0->2'], ['redis 0->2'], ['a', 'b']]);
    });

    it('a chunk overlapping what another attempt committed writes nothing and moves Redis to the sink offset', async () => {
      const overlapping = committer(0n, 5n);
      expect(await sink.commit(['a', 'b', 'c', 'd', 'e'], overlapping)).toEqual({ status: 'skipped', storedOffset: 2n });
      expect([overlapping.calls, await rows()]).toEqual([['redis 0->2'], ['a', 'b']]);
    });

    it('a chunk starting past the sink offset is a coded gap error naming the partition, stored and expected offsets', async () => {
      await expect(sink.commit(['x'], committer(7n, 8n))).rejects.toThrow(
        `[SLUICE_CHECKPOINT_CONFLICT] postgresSink: t-0: the sink's offset (${schema}.offsets) is 2, expected 7 ` +
          '(the chunk [7, 8) would leave a gap); the Redis checkpoint is ahead of the sink, which is the authority for this job'
      );
      expect(await rows()).toEqual(['a', 'b']);
    });

    it('a task of an older epoch than one that wrote is fenced and writes nothing', async () => {
      const newer = committer(2n, 3n, '5');
      expect(await sink.commit(['c'], newer)).toEqual({ status: 'committed' });
      const older = committer(3n, 4n, '4');
      await expect(sink.commit(['d'], older)).rejects.toThrow('[SLUICE_FENCED] epoch 4 is fenced (current epoch 5)');
      expect([older.calls, await rows()]).toEqual([[], ['a', 'b', 'c']]);
    });

    it('writes a replayed dead letter once, however often it is replayed', async () => {
      const replays: string[] = [];
      const replay = (): ChunkCommitter => ({
        context: context(9n, 10n),
        commit: () => {
          replays.push('marked');
          return Promise.resolve({ status: 'committed' });
        },
      });
      expect(await sink.commit(['r'], replay())).toEqual({ status: 'committed' });
      expect(await sink.commit(['r'], replay())).toEqual({ status: 'skipped', storedOffset: null });
      // Marked in Redis both times (the second finds it written, as after a crash before the mark).
      expect([replays, await rows()]).toEqual([
        ['marked', 'marked'],
        ['a', 'b', 'c', 'r'],
      ]);
    });

    it('reports the offsets it holds for the partitions asked about', async () => {
      expect(
        await sink.committedOffsets?.(
          [
            { topic: 't', partition: 0 },
            { topic: 't', partition: 1 },
          ],
          { job, logger: undefined as never }
        )
      ).toEqual([{ topic: 't', partition: 0, offset: 3n }]);
    });
  });
});
