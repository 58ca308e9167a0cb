import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type Redis from 'ioredis';
import {
  createLogger,
  kafkaSink,
  type ChunkCommitter,
  type CommitOutcome,
  type KafkaSinkOptions,
  type Logger,
  type ProcessContext,
  type Sink,
} from '@sluice/common';
import { brokers, uniqueName } from '../helpers/env';
import {
  consoleConsumerValues,
  createTopic,
  endOffsets,
  groupOffsets,
  kafka,
  kafkaCli,
  kcatValues,
  produceValues,
  tally,
  withAdmin,
} from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { driverWithExecutor, isStopped, killLeader, recoverFromLostRedisCommit } from '../helpers/sink-faults';
import { checkpoint, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(180_000);

const JOB = 'test/jobs/kafka-audit.js';
/** Short leases and heartbeats: the tests kill drivers and stop executors and wait for takeovers. */
const fastFailover = { SLUICE_DRIVER_LEASE_TTL_MS: '1500', SLUICE_DRIVER_HEARTBEAT_TIMEOUT_MS: '2000' };

/** `sluice run` of the kafka-audit job until everything present at start is committed. */
function runUntilLatest(topic: string, env: NodeJS.ProcessEnv, extra: string[] = []): SluiceProcess {
  return sluice(['run', ...jobArgs(JOB, topic), '--executors', '2', '--until', 'latest', '--batch-interval-ms', '200', ...extra], env);
}

/**
 * Values of a topic as a kafkajs consumer reads them under read_committed (its default), until
 * `count` came. kafkajs 2.2.4 is not the authority on what is committed (see docs/kafka-sink.md):
 * kcat and Kafka's console consumer are.
 */
async function kafkajsValues(topic: string, count: number): Promise<string[]> {
  const consumer = kafka().consumer({ groupId: uniqueName('ks-reader'), readUncommitted: false });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        values.push(message.value?.toString('utf8') ?? '<null>');
        return Promise.resolve();
      },
    });
    await waitFor(() => values.length >= count || undefined, { timeoutMs: 60_000, label: `${count} values read by kafkajs` });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

describe('kafkaSink', () => {
  let client: Redis;
  /** A topic holding `count` unique values over `partitions`, and an empty output topic. */
  const backlog = async (prefix: string, partitions: number, count: number): Promise<{ topic: string; out: string; values: string[] }> => {
    const topic = uniqueName(`ks-${prefix}`);
    const out = `${topic}-out`;
    await createTopic(topic, partitions);
    await createTopic(out, 3);
    const values = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    await produceValues(topic, values, partitions);
    return { topic, out, values };
  };
  /** Every value in the output once (kcat and the Java console consumer, read_committed); group offsets and checkpoint at the end offsets. */
  const expectExactlyOnce = async ({ topic, out, values }: { topic: string; out: string; values: string[] }): Promise<void> => {
    const n = values.length;
    const once = { records: n, distinct: n, duplicates: 0, lost: 0 };
    expect(tally(await kcatValues(out), values)).toEqual(once);
    expect(tally(await consoleConsumerValues(out, undefined, n), values)).toEqual(once);
    const ends = await endOffsets(topic);
    expect(await groupOffsets(`sluice-${topic}`)).toEqual(ends);
    expect(await checkpoint(client, topic)).toEqual(ends);
  };
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('writes 20,000 records over 4 partitions exactly once; the group offsets and the checkpoint equal the end offsets', async () => {
    const job = await backlog('eo', 4, 20_000);
    // The group mirror stays off for a kafkaSink job: this group is never written.
    const mirror = `${job.topic}-mirror`;

    const run = runUntilLatest(job.topic, { KAFKA_AUDIT_OUT: job.out, SLUICE_DRIVER_CONSUMER_GROUP: mirror }, [
      '--max-rate-per-partition',
      '5000',
    ]);
    await run.succeeds(120_000);

    await expectExactlyOnce(job);
    const mirrored = await withAdmin((admin) => admin.fetchOffsets({ groupId: mirror, topics: [job.topic] }));
    expect(mirrored.flatMap((t) => t.partitions.map((p) => p.offset))).toEqual(['-1', '-1', '-1', '-1']);
    expect(tally(await kafkajsValues(job.out, job.values.length), job.values)).toEqual({
      records: 20_000,
      distinct: 20_000,
      duplicates: 0,
      lost: 0,
    });
  });

  it('after a crash between the Kafka commit and the Redis one, the next leader moves Redis forward and nothing is written twice', async () => {
    const job = await backlog('crash', 2, 2000);
    const { topic } = job;
    const env = { KAFKA_AUDIT_OUT: job.out, ...fastFailover };
    const { driver, executor } = await driverWithExecutor(JOB, topic, env, { KAFKA_AUDIT_KILL_AFTER_COMMIT: '1' });
    // The executor killed itself right after its first Kafka commit: the group is ahead of Redis.
    expect((await executor.exit(60_000)).signal).toBe('SIGKILL');
    const committed = await groupOffsets(`sluice-${topic}`);
    await recoverFromLostRedisCommit({ driver, client, topic, committed, sink: 'kafka', run: () => runUntilLatest(topic, env) });
    await expectExactlyOnce(job);
  });

  it('a zombie executor stopped mid-transaction commits nothing once a new producer took its partition', async () => {
    const job = await backlog('zombie', 1, 500);
    const { topic } = job;
    const env = { KAFKA_AUDIT_OUT: job.out, ...fastFailover };
    const { driver, executor: zombie } = await driverWithExecutor(JOB, topic, env, { KAFKA_AUDIT_STOP_IN_TXN: '1' });
    // Stopped by itself with its records and the group offset sent in an open transaction.
    await waitFor(() => isStopped(zombie.pid), { timeoutMs: 60_000, label: 'the executor stopped inside its transaction' });
    await killLeader(driver, client, topic);

    // A new driver runs the range on new executors while the zombie sleeps: their producer fences it.
    await runUntilLatest(topic, env).succeeds(90_000);
    await expectExactlyOnce(job);

    zombie.kill('SIGCONT');
    // Its commit is refused: the transaction was aborted when the new producer took the transactional id.
    await zombie.waitForOutput(/SLUICE_PRODUCER_FENCED/, 30_000);
    await expectExactlyOnce(job);
    // Its records are in the log all the same, aborted: a read_uncommitted reader sees them too.
    const { stdout } = await promisify(execFile)(
      'kcat',
      ['-b', brokers(), '-C', '-t', job.out, '-e', '-q', '-f', '%s\\n', '-X', 'isolation.level=read_uncommitted'],
      {
        maxBuffer: 64 << 20,
      }
    );
    expect(stdout.split('\n').filter((v) => v !== '').length).toBeGreaterThan(job.values.length);
  });

  it('refuses to start a driver with speculation, skew splitting or a transaction timeout below the task attempts', async () => {
    const topic = uniqueName('ks-refused');
    await createTopic(topic, 1);
    const refused = async (env: NodeJS.ProcessEnv, message: string): Promise<void> => {
      const driver = sluice(['driver', ...jobArgs(JOB, topic), '--grpc-port', String(await freePort())], {
        KAFKA_AUDIT_OUT: topic,
        ...env,
      });
      expect((await driver.exit(30_000)).code).not.toBe(0);
      expect(driver.stderr).toContain(message);
    };
    await refused({ SLUICE_DRIVER_SPECULATION: 'true' }, "[SLUICE_CONFIG_INVALID] driver.speculation is on, but the job's kafka sink");
    await refused({ SLUICE_JOB_MIN_PARTITIONS: '4' }, "[SLUICE_CONFIG_INVALID] job.minPartitions is 4, but the job's kafka sink");
    await refused(
      { KAFKA_AUDIT_TXN_TIMEOUT_MS: '60000' },
      "[SLUICE_CONFIG_INVALID] the job's kafka sink has transactionTimeoutMs 60000, which must exceed the longest a task's attempts may take: " +
        'driver.taskTimeoutMs 60000 × (driver.maxTaskFailures 4 + 1) = 300000 ms'
    );
  });

  describe('one chunk, with a committer standing in for the checkpoint store', () => {
    const job = uniqueName('ks-chunks');
    // The group coordinator takes offsets only of topics that exist.
    const src = `${job}-in`;
    const out = `${job}-out`;
    const context = (fromOffset: bigint, untilOffset: bigint, partition: number): ProcessContext =>
      ({ job, batchId: 1, topic: src, partition, fromOffset, untilOffset, attempt: 0, logger: undefined }) as unknown as ProcessContext;
    /** Records the Redis side's calls: commit (the chunk's `until`) and commitUpTo. */
    const committer = (fromOffset: bigint, untilOffset: bigint, partition = 0): ChunkCommitter & { calls: string[] } => {
      const calls: string[] = [];
      const committed = (until: bigint): Promise<CommitOutcome> => {
        calls.push(`redis ${fromOffset}->${until}`);
        return Promise.resolve({ status: 'committed' });
      };
      return {
        context: context(fromOffset, untilOffset, partition),
        epoch: '1',
        calls,
        commit: () => committed(untilOffset),
        commitUpTo: committed,
      };
    };
    const sinks: Sink<unknown>[] = [];
    const newSink = (options: KafkaSinkOptions = {}, logger: Logger = createLogger('error')): Sink<{ value: string }> => {
      const sink = kafkaSink({ topic: out, ...options });
      sink.useKafka?.(
        {
          brokers: brokers().split(','),
          clientId: 'sluice-tests',
          isolation: 'read_committed',
          connectionTimeoutMs: 3000,
          requestTimeoutMs: 10000,
          fetchMaxBytes: 1 << 20,
          partitionMaxBytes: 1 << 20,
          fetchMaxWaitMs: 100,
          retries: 3,
        },
        logger
      );
      sinks.push(sink);
      return sink;
    };
    const written = async (): Promise<string[]> => (await kcatValues(out)).sort();
    let sink: Sink<{ value: string }>;
    beforeAll(async () => {
      await createTopic(src, 2);
      await createTopic(out, 1);
      sink = newSink();
    });
    afterAll(async () => {
      for (const s of sinks) await s.close?.();
    });

    it('commits, then finds a repeat already committed (nothing written), and moves Redis forward both times', async () => {
      const first = committer(0n, 2n);
      expect(await sink.commit([{ value: 'a' }, { value: 'b' }], first)).toEqual({ status: 'committed' });
      const repeat = committer(0n, 2n);
      expect(await sink.commit([{ value: 'a' }, { value: 'b' }], repeat)).toEqual({ status: 'committed' });
      expect([first.calls, repeat.calls, await written()]).toEqual([['redis 0->2'], ['redis 0->2'], ['a', 'b']]);
    });

    it('a chunk overlapping what another attempt committed writes nothing and moves Redis to the group offset', async () => {
      const overlapping = committer(0n, 5n);
      expect(await newSink().commit([{ value: 'a' }, { value: 'b' }, { value: 'c' }], overlapping)).toEqual({
        status: 'skipped',
        storedOffset: 2n,
      });
      expect([overlapping.calls, await written()]).toEqual([['redis 0->2'], ['a', 'b']]);
    });

    it('a chunk starting past the group offset is a coded gap error naming the partition, stored and expected offsets', async () => {
      await expect(newSink().commit([{ value: 'x' }], committer(7n, 8n))).rejects.toThrow(
        `[SLUICE_CHECKPOINT_CONFLICT] kafkaSink: ${src}-0: the sink's offset (consumer group sluice-${job}) is 2, expected 7 ` +
          '(the chunk [7, 8) would leave a gap); the Redis checkpoint is ahead of the sink, which is the authority for this job'
      );
      expect(await written()).toEqual(['a', 'b']);
    });

    it('a producer fenced by a newer one with the same transactional id commits nothing and says so', async () => {
      const older = sink;
      const newer = newSink();
      // The newer one's first commit creates its producer, which fences the older's.
      expect(await newer.commit([{ value: 'c' }], committer(2n, 3n))).toEqual({ status: 'committed' });
      // The older one's producer still takes the group to be at 2, where it left it: its transaction is refused.
      const late = committer(2n, 3n);
      await expect(older.commit([{ value: 'late' }], late)).rejects.toThrow(
        `[SLUICE_PRODUCER_FENCED] kafkaSink: ${src}-0 [2, 3): producer sluice-${job}-${src}-0 was fenced by a newer one`
      );
      expect([late.calls, await written()]).toEqual([[], ['a', 'b', 'c']]);
      // The next commit starts a new producer, which reads where the group stands.
      expect(await older.commit([{ value: 'd' }], committer(3n, 4n))).toEqual({ status: 'committed' });
      expect(await written()).toEqual(['a', 'b', 'c', 'd']);
    });

    it('reports the group offsets it holds for the partitions asked about', async () => {
      expect(
        await sink.committedOffsets?.(
          [
            { topic: src, partition: 0 },
            { topic: src, partition: 1 },
          ],
          { job, logger: undefined as never }
        )
      ).toEqual([{ topic: src, partition: 0, offset: 4n }]);
    });

    it('closes a producer idle for producerIdleMs; the next commit fences with a new one', async () => {
      // Partition 1: the tests above use partition 0.
      const transactionalId = `sluice-${job}-${src}-1`;
      /** The producer epoch the transaction coordinator holds for the id (Kafka's kafka-transactions describe). */
      const producerEpoch = async (): Promise<number> => {
        const text = await kafkaCli(
          'tool',
          'org.apache.kafka.tools.TransactionsCommand',
          '--bootstrap-server',
          brokers(),
          'describe',
          '--transactional-id',
          transactionalId
        );
        const row = text.split('\n').find((line) => line.includes(transactionalId));
        return Number(row?.trim().split(/\s+/)[3]);
      };
      const logs = new PassThrough();
      let logged = '';
      logs.on('data', (b: Buffer) => (logged += b.toString()));
      const idle = newSink({ producerIdleMs: 500 }, createLogger('debug', {}, { destination: logs, pretty: false }));
      expect(await idle.commit([{ value: 'p1-a' }], committer(0n, 1n, 1))).toEqual({ status: 'committed' });
      const first = await producerEpoch();
      await waitFor(() => logged.includes('kafkaSink: closing an idle producer'), { timeoutMs: 10_000, label: 'the idle producer closed' });
      expect(await idle.commit([{ value: 'p1-b' }], committer(1n, 2n, 1))).toEqual({ status: 'committed' });
      expect(await producerEpoch()).toBe(first + 1);
      // Kept while in use: with producerIdleMs 0 the next commits reuse it (the epoch stays).
      const kept = newSink({ producerIdleMs: 0 });
      expect(await kept.commit([{ value: 'p1-c' }], committer(2n, 3n, 1))).toEqual({ status: 'committed' });
      const keptEpoch = await producerEpoch();
      expect(await kept.commit([{ value: 'p1-d' }], committer(3n, 4n, 1))).toEqual({ status: 'committed' });
      expect([await producerEpoch(), keptEpoch]).toEqual([first + 2, first + 2]);
      expect((await written()).filter((v) => v.startsWith('p1-'))).toEqual(['p1-a', 'p1-b', 'p1-c', 'p1-d']);
    });
  });
});
