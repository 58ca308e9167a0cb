import * as grpc from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { CheckpointStore, type WireTaskRequest, type WireTaskResult } from '@sluice/common';
import { redisUrl, uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, redis } from '../helpers/redis';
import { connectExecutor, type ExecutorTestClient } from '../helpers/executor-client';

jest.setTimeout(60_000);

/**
 * Talks to an executor directly, as a driver would, to deliver the same task more than once: a
 * retry after a lost response, a duplicate, a late attempt of an old epoch.
 */
describe('duplicate task delivery', () => {
  let client: Redis;
  let store: CheckpointStore;
  let executor: ExecutorTestClient;
  const topic = uniqueName('dup');
  const values = Array.from({ length: 300 }, (_, i) => `d${i}`);

  beforeAll(async () => {
    client = redis();
    await createTopic(topic, 1);
    await produceValues(topic, values, 1);
    store = await CheckpointStore.connect(redisUrl(), topic);
    const port = await freePort();
    // No driver: the executor serves tasks anyway (its registration just keeps retrying).
    sluice(['executor', ...jobArgs('examples/audit', topic), '--driver', '127.0.0.1:9', '--grpc-port', String(port)]);
    executor = await connectExecutor(`127.0.0.1:${port}`);
  });
  afterAll(async () => {
    executor.close();
    await killAll();
    await store.close();
    await client.quit();
  });

  const runTask = (request: WireTaskRequest): Promise<WireTaskResult> => executor.runTask(request);
  const task = (epoch: string, from: number, until: number, attempt = 0): WireTaskRequest => ({
    task_id: `1/${topic}:0/${attempt}`,
    job: topic,
    batch_id: '1',
    epoch,
    attempt,
    range: { topic, partition: 0, from_offset: String(from), until_offset: String(until) },
    may_stage: false,
    failures: 0,
  });

  it('applies a task once: the same task again, and a late retry, change nothing', async () => {
    const epoch = await store.takeEpoch();
    await store.writePlan({ id: 1, epoch, time: Date.now(), ranges: [{ topic, partition: 0, fromOffset: 0n, untilOffset: 300n }] });

    const first = await runTask(task(epoch, 0, 300));
    expect(first).toMatchObject({ status: 'COMMITTED', records: '300' });
    const again = await Promise.all([runTask(task(epoch, 0, 300, 1)), runTask(task(epoch, 0, 300, 2))]);
    expect(again.map((r) => [r.status, r.records])).toEqual([
      ['ALREADY_COMMITTED', '0'],
      ['ALREADY_COMMITTED', '0'],
    ]);

    assertExactlyOnce(await auditCounts(client, topic), values);
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '300' });
  });

  it('refuses a task of a fenced epoch without writing anything', async () => {
    const stale = (await store.currentEpoch()) as string;
    await store.takeEpoch();
    await expect(runTask(task(stale, 300, 300))).resolves.toMatchObject({ status: 'ALREADY_COMMITTED' });
    const before = await auditCounts(client, topic);
    // A stale-epoch attempt on a range that is not committed yet must be refused by the commit script.
    await client.hset(store.keys.offsets, `${topic}:0`, '0');
    await expect(runTask(task(stale, 0, 300))).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining('SLUICE_FENCED') as unknown,
    });
    expect(await auditCounts(client, topic)).toEqual(before);
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '0' });
  });
});
