import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { parsePrometheus, sampleValue } from '../helpers/prometheus';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, history, redis, waitForCheckpoint } from '../helpers/redis';

jest.setTimeout(120_000);

describe('task groups (small ranges sent to an executor together)', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('runs many small ranges in a few calls; a task failing inside a group is retried on its own; exactly once', async () => {
    const topic = uniqueName('groups');
    await createTopic(topic, 16);
    const values = Array.from({ length: 1600 }, (_, i) => `g${i}`);
    await produceValues(topic, values, 16); // 100 per partition: small ranges (at most 10000 / 16)
    const port = String(await freePort());
    const job = jobArgs('test/jobs/flaky-audit.js', topic);
    const flaky = { FLAKY_PARTITIONS: '3,11' };

    const driver = sluice(['driver', ...job, '--grpc-port', port, '--min-executors', '2', '--batch-interval-ms', '200'], flaky);
    for (const id of ['e1', 'e2']) sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', id, '--slots', '2'], flaky);
    const url = (await driver.waitForOutput(/HTTP server \(UI, API, metrics\) at (\S+)/))[1] as string;

    const ends = await endOffsets(topic);
    await waitForCheckpoint(client, topic, ends, { processes: [driver] });
    const metrics = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
    driver.kill('SIGTERM');
    await driver.succeeds(30_000);

    assertExactlyOnce(await auditCounts(client, topic), values);
    const batches = await history(client, topic);
    assertRangesCoverFromZero(batches, ends);
    const ranges = batches.flatMap((b) => b.ranges);
    // 16 ranges over 2 executors: one call per executor and batch, not one per range or slot.
    const groups = sampleValue(metrics, 'sluice_task_groups_total');
    expect(groups).toBeGreaterThanOrEqual(2);
    expect(groups).toBeLessThanOrEqual(2 * batches.filter((b) => b.ranges.length > 0).length);
    // The flaky partitions' first attempts failed in their group; their retries committed.
    for (const r of ranges) expect(r.attempt).toBe(r.partition === 3 || r.partition === 11 ? 1 : 0);
    expect(sampleValue(metrics, 'sluice_task_retries_total')).toBe(2);
  });
});
