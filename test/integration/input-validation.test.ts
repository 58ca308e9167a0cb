import * as grpc from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { CheckpointStore, type WireTaskRequest } from '@sluice/common';
import { redisUrl, uniqueName } from '../helpers/env';
import { createTopic } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { keysOf, redis } from '../helpers/redis';
import { connectExecutor, type ExecutorTestClient } from '../helpers/executor-client';

jest.setTimeout(60_000);

/**
 * An executor takes tasks from the network: a raw gRPC client sends it requests no driver of its
 * job would send, and each is refused with a status and a message naming the problem, before
 * anything is read or committed.
 */
describe('input validation of the Executor service', () => {
  let client: Redis;
  let store: CheckpointStore;
  let executor: ExecutorTestClient;
  let epoch: string;
  const topic = uniqueName('inval');

  beforeAll(async () => {
    client = redis();
    await createTopic(topic, 2);
    store = await CheckpointStore.connect(redisUrl(), topic);
    epoch = await store.takeEpoch();
    const port = await freePort();
    // No driver: the executor serves tasks anyway (its registration keeps retrying).
    sluice(['executor', ...jobArgs('examples/audit', topic), '--driver', '127.0.0.1:9', '--grpc-port', String(port)], {
      SLUICE_GRPC_MAX_MESSAGE_BYTES: '65536',
    });
    executor = await connectExecutor(`127.0.0.1:${port}`);
  });
  afterAll(async () => {
    executor.close();
    await killAll();
    await store.close();
    await client.quit();
  });

  const refusal = (request: WireTaskRequest): Promise<[number, string] | 'accepted'> =>
    executor.runTask(request, 10_000).then(
      () => 'accepted',
      (e: grpc.ServiceError) => [e.code, e.details]
    );
  const task = (change: Omit<Partial<WireTaskRequest>, 'range'> & { range?: Partial<WireTaskRequest['range']> } = {}): WireTaskRequest => ({
    task_id: 't1',
    job: topic,
    batch_id: '1',
    epoch,
    attempt: 0,
    failures: 0,
    may_stage: false,
    ...change,
    range: { topic, partition: 0, from_offset: '0', until_offset: '10', ...change.range },
  });

  it.each<[string, () => WireTaskRequest, number, string | (() => string)]>([
    [
      'a topic outside the subscription',
      () => task({ range: { topic: 'payroll' } }),
      grpc.status.INVALID_ARGUMENT,
      `[SLUICE_INVALID_REQUEST] task t1: range payroll-0 [0, 10) is not in the subscription of job '${topic}'`,
    ],
    [
      'an internal topic',
      () => task({ range: { topic: '__consumer_offsets' } }),
      grpc.status.INVALID_ARGUMENT,
      `[SLUICE_INVALID_REQUEST] task t1: range __consumer_offsets-0 [0, 10) is not in the subscription of job '${topic}'`,
    ],
    [
      'a negative partition',
      () => task({ range: { partition: -1 } }),
      grpc.status.INVALID_ARGUMENT,
      '[SLUICE_INVALID_REQUEST] task t1: partition -1 is negative',
    ],
    [
      'a negative offset',
      () => task({ range: { from_offset: '-5' } }),
      grpc.status.INVALID_ARGUMENT,
      '[SLUICE_INVALID_REQUEST] task t1: invalid range [-5, 10)',
    ],
    [
      'a range that ends before it starts',
      () => task({ range: { from_offset: '20', until_offset: '10' } }),
      grpc.status.INVALID_ARGUMENT,
      '[SLUICE_INVALID_REQUEST] task t1: invalid range [20, 10)',
    ],
    [
      'a topic name Kafka would refuse',
      () => task({ range: { topic: '../etc' } }),
      grpc.status.INVALID_ARGUMENT,
      "[SLUICE_INVALID_REQUEST] task t1: '../etc' is not a valid topic name",
    ],
    [
      'another job',
      () => task({ job: 'payroll' }),
      grpc.status.INVALID_ARGUMENT,
      `[SLUICE_INVALID_REQUEST] task t1: job 'payroll' is not this executor's job '${topic}'`,
    ],
    [
      'an empty task id',
      () => task({ task_id: '' }),
      grpc.status.INVALID_ARGUMENT,
      '[SLUICE_INVALID_REQUEST] task : task_id must be 1 to 512 characters',
    ],
    [
      'an epoch from the future',
      () => task({ epoch: String(Number(epoch) + 5) }),
      grpc.status.FAILED_PRECONDITION,
      () => `[SLUICE_FENCED] task t1: epoch ${Number(epoch) + 5} is from the future (job '${topic}' is at epoch ${epoch}); refused`,
    ],
    [
      'epoch 0',
      () => task({ epoch: '0' }),
      grpc.status.INVALID_ARGUMENT,
      '[SLUICE_INVALID_REQUEST] task t1: epoch 0 is not a driver epoch',
    ],
  ])('refuses %s', async (_name, request, code, details) => {
    expect(await refusal(request())).toEqual([code, typeof details === 'function' ? details() : details]);
  });

  it('refuses a message above grpc.maxMessageBytes with RESOURCE_EXHAUSTED', async () => {
    const [code, details] = (await refusal(task({ task_id: 'x'.repeat(100_000) }))) as [number, string];
    expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(details).toMatch(/^Received message larger than max \(\d+ vs 65536\)$/);
  });

  it('committed nothing: the job has no offsets, outputs or plan in Redis', async () => {
    expect(await keysOf(client, topic)).toEqual([store.keys.epoch]);
  });
});
