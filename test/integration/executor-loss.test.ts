import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

describe('executor lost mid-task', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('retries the tasks of a SIGKILLed executor on the other one, resuming after its committed chunks', async () => {
    const topic = uniqueName('exec-loss');
    await createTopic(topic, 4);
    const values = Array.from({ length: 4000 }, (_, i) => `e${i}`);
    await produceValues(topic, values, 4);
    const entered = jobKeys(topic).output('gate-entered');
    const port = String(await freePort());
    const job = jobArgs('test/jobs/gated-audit.js', topic);
    // Small chunks: the doomed executor commits two chunks of a range, then hangs in the third.
    const smallChunks = { SLUICE_EXECUTOR_MAX_CHUNK_RECORDS: '50' };

    const driver = sluice(['driver', ...job, '--until', 'latest', '--grpc-port', port, '--batch-interval-ms', '300']);
    const doomed = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'doomed'], {
      ...smallChunks,
      GATE_AFTER_CHUNKS: '2',
      GATE_ENTERED_KEY: entered,
    });
    await waitFor(async () => (await client.llen(entered)) > 0, { label: 'doomed executor blocked mid-range' });
    sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'survivor'], smallChunks);
    doomed.kill('SIGKILL');

    await driver.succeeds(90_000);
    const batches = await assertFinishedExactlyOnce(client, topic, values);
    const retried = batches.flatMap((b) => b.ranges).filter((r) => r.attempt > 0);
    expect(retried.length).toBeGreaterThan(0);
    expect(new Set(retried.map((r) => r.executor))).toEqual(new Set(['survivor']));
  });
});
