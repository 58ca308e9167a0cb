import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { driverUrl, logLines, waitForAliveExecutors } from '../helpers/fault';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, withProducer } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { checkpoint, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(90_000);

// One record batch (50 records, see produce) per fetch, and a chunk as soon as 50 records are in.
const smallChunks = { SLUICE_EXECUTOR_MAX_CHUNK_RECORDS: '50', SLUICE_KAFKA_PARTITION_MAX_BYTES: '1' };

/**
 * `perPartition` unique values in each of `partitions` partitions of `topic`, sent 50 at a time:
 * one Kafka record batch per send, so executors with `maxChunkRecords` 50 commit every 50 records.
 */
async function produce(topic: string, partitions: number, perPartition: number): Promise<string[]> {
  const values: string[] = [];
  await withProducer(async (producer) => {
    for (let p = 0; p < partitions; p++) {
      for (let start = 0; start < perPartition; start += 50) {
        const slice = Array.from({ length: Math.min(50, perPartition - start) }, (_, i) => `p${p}-${start + i}`);
        values.push(...slice);
        await producer.send({ topic, acks: -1, messages: slice.map((value) => ({ value, partition: p })) });
      }
    }
  });
  return values;
}

describe('executor graceful shutdown (SIGTERM)', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('finishes its running tasks, refuses new ones (the driver sends them elsewhere), deregisters and exits 0', async () => {
    const topic = uniqueName('exec-term');
    await createTopic(topic, 3);
    const values = await produce(topic, 3, 300);
    const port = String(await freePort());
    const job = jobArgs('test/jobs/slow-audit.js', topic);
    // 10 ms per record in chunks of 50: a range of 300 takes 3 s, committing every 0.5 s.
    const slow = { SLOW_MS_PER_RECORD: '10', ...smallChunks };

    // One call per range (no task groups): the third range must wait in the driver for a free slot.
    const driver = sluice(['driver', ...job, '--until', 'latest', '--grpc-port', port, '--batch-interval-ms', '300'], {
      SLUICE_DRIVER_TASK_GROUP_RECORDS: '0',
    });
    const url = await driverUrl(driver);
    // Two slots for three ranges: two run at once, the third waits in the driver for a free slot.
    const leaving = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'leaving', '--slots', '2'], {
      ...slow,
      LOG_LEVEL: 'info',
    });
    const running = await waitFor(
      async () => {
        const offsets = await checkpoint(client, topic);
        const started = Object.entries(offsets).filter(([, offset]) => Number(offset) >= 50 && Number(offset) < 300);
        return started.length === 2 ? started.map(([key]) => key) : undefined;
      },
      { timeoutMs: 30_000, label: 'two ranges running on the leaving executor' }
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${driver.stdout}\n${driver.stderr}\n${leaving.stderr}`);
    });
    sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'staying'], slow);
    await waitForAliveExecutors(url, ['leaving', 'staying']);

    const termAt = Date.now();
    leaving.kill('SIGTERM');
    expect(await leaving.exit(30_000)).toEqual({ code: 0, signal: null });
    // It waited for its two tasks (about 2.5 s left of 3 s), far less than executor.shutdownTimeoutMs (30 s).
    expect(Date.now() - termAt).toBeLessThan(15_000);
    expect(logLines(leaving, 'shutting down: finishing running tasks')).toEqual([expect.objectContaining({ running: 2 })]);
    expect(logLines(leaving, 'executor stopped')).toEqual([expect.objectContaining({ finished: 2, handedBack: 0 })]);

    await driver.succeeds(60_000);
    const batches = await assertFinishedExactlyOnce(client, topic, values);
    const ranges = batches.flatMap((b) => b.ranges);
    // The two ranges it was running when SIGTERMed: completed by it, first attempt, no failure.
    for (const key of running) {
      const [, partition] = key.split(':');
      expect(ranges.filter((r) => String(r.partition) === partition)).toEqual([
        expect.objectContaining({ executor: 'leaving', attempt: 0, from: '0', until: '300' }),
      ]);
    }
    // The third was refused by the draining executor (or found it gone) and ran on the other one.
    const third = ranges.filter((r) => !running.includes(`${r.topic}:${r.partition}`));
    expect(third).toEqual([expect.objectContaining({ executor: 'staying', attempt: 1, from: '0', until: '300' })]);
    const failures = logLines(driver, 'task attempt failed');
    expect(failures).toEqual([
      expect.objectContaining({
        executor: 'leaving',
        attempt: 0,
        partition: third[0]?.partition,
        err: expect.stringMatching(/executor leaving is shutting down: task \S+ refused|executor was removed/) as unknown,
      }),
    ]);
  });

  it('hands back a task still running after executor.shutdownTimeoutMs, exits 0, and the task is retried elsewhere', async () => {
    const topic = uniqueName('exec-term-late');
    await createTopic(topic, 1);
    const values = await produce(topic, 1, 200);
    const entered = jobKeys(topic).output('gate-entered');
    const port = String(await freePort());
    const job = jobArgs('test/jobs/gated-audit.js', topic);

    const driver = sluice(['driver', ...job, '--until', 'latest', '--grpc-port', port, '--batch-interval-ms', '300']);
    const url = await driverUrl(driver);
    // Commits its first chunk, then blocks in the second: a task that never ends on its own.
    const leaving = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'leaving'], {
      ...smallChunks,
      GATE_AFTER_CHUNKS: '1',
      GATE_ENTERED_KEY: entered,
      SLUICE_EXECUTOR_SHUTDOWN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'info',
    });
    await waitFor(async () => (await client.llen(entered)) > 0, { label: 'task blocked on the leaving executor' });
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '50' });
    sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'staying'], smallChunks);
    await waitForAliveExecutors(url, ['leaving', 'staying']);

    const termAt = Date.now();
    leaving.kill('SIGTERM');
    expect(await leaving.exit(20_000)).toEqual({ code: 0, signal: null });
    const took = Date.now() - termAt;
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(10_000);
    expect(logLines(leaving, 'executor stopped')).toEqual([expect.objectContaining({ finished: 0, handedBack: 1 })]);

    await driver.succeeds(60_000);
    const batches = await assertFinishedExactlyOnce(client, topic, values);
    // The retry resumed from the leaving executor's committed chunk (the range stays [0, 200)); the
    // range's records are counted once: 50 committed by the leaving executor, 150 by the retry.
    expect(batches.flatMap((b) => b.ranges)).toEqual([
      expect.objectContaining({ executor: 'staying', attempt: 1, from: '0', until: '200', records: 200 }),
    ]);
  });
});
