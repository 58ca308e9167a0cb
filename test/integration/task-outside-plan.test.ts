import * as grpc from '@grpc/grpc-js';
import type Redis from 'ioredis';
import {
  CheckpointStore,
  createLogger,
  defineJob,
  redisCounterSink,
  type DeadLetter,
  type RangeReader,
  type SourceRecord,
  type WireTaskRequest,
} from '@sluice/common';
import { TaskRunner } from '@sluice/executor';
import { redisUrl, uniqueName } from '../helpers/env';
import { connectExecutor, type ExecutorTestClient } from '../helpers/executor-client';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, keysOf, redis } from '../helpers/redis';

jest.setTimeout(90_000);

/**
 * A task is only valid inside the stored plan: a forged task that carries the current epoch but a
 * range or batch the plan does not hold is refused by the executor it reaches, writes nothing, and
 * the job goes on to finish exactly-once.
 */
describe('a task outside the stored plan', () => {
  let client: Redis;
  let store: CheckpointStore;
  let executor: ExecutorTestClient;
  const topic = uniqueName('outplan');
  const values = Array.from({ length: 600 }, (_, i) => `o${i}`);
  const driverArgs = (port: number): string[] => [
    'driver',
    ...jobArgs('examples/audit', topic),
    '--grpc-port',
    String(port),
    '--batch-interval-ms',
    '500',
    '--max-rate-per-partition',
    '200',
  ];
  let driverPort: number;
  let epoch: string;

  beforeAll(async () => {
    client = redis();
    await createTopic(topic, 2);
    await produceValues(topic, values, 2);
    store = await CheckpointStore.connect(redisUrl(), topic);
    driverPort = await freePort();
    const executorPort = await freePort();
    sluice(['executor', ...jobArgs('examples/audit', topic), '--driver', `127.0.0.1:${driverPort}`, '--grpc-port', String(executorPort)]);
    executor = await connectExecutor(`127.0.0.1:${executorPort}`);
    // Batch 1 commits [0, 100) of both partitions (200/s × 0.5 s); then batch 2 is planned as its
    // driver would plan it, and left in flight.
    await sluice([...driverArgs(driverPort), '--batches', '1']).succeeds();
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '100', [`${topic}:1`]: '100' });
    epoch = await store.takeEpoch();
    await store.writePlan({ id: 2, epoch, time: Date.now(), ranges: [{ topic, partition: 0, fromOffset: 100n, untilOffset: 140n }] });
  });
  afterAll(async () => {
    executor.close();
    await killAll();
    await store.close();
    await client.quit();
  });

  const forged = (batchId: number, partition: number, from: number, until: number): WireTaskRequest => ({
    task_id: `${batchId}/${topic}:${partition}@${from}/0`,
    job: topic,
    batch_id: String(batchId),
    epoch,
    attempt: 0,
    failures: 0,
    may_stage: false,
    range: { topic, partition, from_offset: String(from), until_offset: String(until) },
  });

  it.each<[string, () => WireTaskRequest, string]>([
    [
      'a range beyond the planned one',
      () => forged(2, 0, 100, 250),
      `[SLUICE_TASK_OUTSIDE_PLAN] batch 2: ${topic}:0 [100, 250) is outside its planned range [100, 140)`,
    ],
    [
      'a range starting before the planned one',
      () => forged(2, 0, 50, 140),
      `[SLUICE_TASK_OUTSIDE_PLAN] batch 2: ${topic}:0 [50, 140) is outside its planned range [100, 140)`,
    ],
    [
      'a partition the plan does not hold',
      () => forged(2, 1, 100, 140),
      `[SLUICE_TASK_OUTSIDE_PLAN] batch 2: ${topic}:1 [100, 140) is not in the plan`,
    ],
    [
      'a batch that is not the planned one',
      () => forged(3, 0, 100, 140),
      `[SLUICE_TASK_OUTSIDE_PLAN] batch 3: ${topic}:0 [100, 140) is not in the planned batch (batch 2 is planned)`,
    ],
    [
      'a batch already committed',
      () => forged(1, 0, 100, 140),
      `[SLUICE_TASK_OUTSIDE_PLAN] batch 1: ${topic}:0 [100, 140) is not in the planned batch (batch 2 is planned)`,
    ],
  ])('refuses %s with a coded error and writes nothing', async (_name, request, message) => {
    const offsets = await checkpoint(client, topic);
    const counts = await auditCounts(client, topic);
    const keys = (await keysOf(client, topic)).sort();

    await expect(executor.runTask(request())).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: message });

    expect(await checkpoint(client, topic)).toEqual(offsets);
    expect(await auditCounts(client, topic)).toEqual(counts);
    expect((await keysOf(client, topic)).sort()).toEqual(keys);
  });

  it('then the job replays the planned batch and finishes exactly-once', async () => {
    await sluice([...driverArgs(driverPort), '--until', 'latest']).succeeds();
    const batches = await assertFinishedExactlyOnce(client, topic, values);
    expect(batches[1]?.ranges.map((r) => [r.partition, r.from, r.until])).toEqual([[0, '100', '140']]);
    expect((await store.totals()).records).toBe(values.length);
  });
});

/** Dead letters are added before a chunk commits, so they are checked against the plan on their own. */
describe('a stray task of a batch no longer planned', () => {
  it('adds no dead letters and fails with SLUICE_TASK_OUTSIDE_PLAN', async () => {
    const job = uniqueName('outplan-dlq');
    const store = await CheckpointStore.connect(redisUrl(), job);
    try {
      const epoch = await store.takeEpoch();
      // Batch 1 committed [0, 10); batch 2 is planned. A zombie attempt of batch 1 runs on.
      await store.writePlan({ id: 2, epoch, time: 0, ranges: [{ topic: 't', partition: 0, fromOffset: 10n, untilOffset: 20n }] });
      const records: SourceRecord[] = Array.from({ length: 10 }, (_, i) => ({
        topic: 't',
        partition: 0,
        offset: BigInt(i),
        timestamp: 0n,
        key: null,
        value: Buffer.from(`v${i}`),
        headers: [],
      }));
      const reader: RangeReader = {
        async *read(range) {
          yield await Promise.resolve(records.filter((r) => r.offset >= range.fromOffset && r.offset < range.untilOffset));
        },
        close: () => Promise.resolve(),
      };
      const poisonJob = defineJob({
        name: job,
        source: { topics: ['t'] },
        process: (chunk) => {
          if (chunk.some((r) => r.offset === 3n)) throw new Error('poison');
          return chunk.map((r) => String(r.value));
        },
        sink: redisCounterSink({ key: 'audit' }),
      });
      const deadLettered: DeadLetter[] = [];
      const runner = new TaskRunner({
        job: poisonJob,
        jobName: job,
        reader,
        store,
        maxChunkRecords: 100,
        logger: createLogger('silent'),
        poison: {
          policy: 'dead-letter',
          maxAttempts: 1,
          maxRecordBytes: 0,
          deadLetter: (letters) => {
            deadLettered.push(...letters);
            return Promise.resolve();
          },
        },
      });
      const zombie = {
        taskId: 'zombie',
        batchId: 1,
        epoch,
        attempt: 0,
        range: { topic: 't', partition: 0, fromOffset: 0n, untilOffset: 10n },
      };

      await expect(runner.run(zombie, new AbortController().signal)).rejects.toThrow(
        '[SLUICE_TASK_OUTSIDE_PLAN] batch 1: t:0 [0, 10) is not in the planned batch (batch 2 is planned)'
      );
      expect(deadLettered).toEqual([]);
      expect(await store.client.exists(store.keys.output('audit'))).toBe(0);
      expect(await store.readOffsets()).toEqual(new Map([['t:0', 10n]]));
    } finally {
      await store.close();
    }
  });
});
