import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { createTopic } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { history, redis } from '../helpers/redis';

jest.setTimeout(60_000);

describe('empty batches', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('are committed and recorded, but send no tasks, so executors never fetch', async () => {
    const topic = uniqueName('empty');
    await createTopic(topic, 3);
    const port = String(await freePort());
    const job = jobArgs('examples/audit', topic);
    const driver = sluice(['driver', ...job, '--batches', '3', '--batch-interval-ms', '100', '--grpc-port', port]);
    // Debug logs show every task an executor runs; there must be none.
    const executor = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`], { LOG_LEVEL: 'debug' });
    await driver.succeeds(30_000);

    expect(driver.stdout.match(/^batch \d+: 0 records, 0 tasks/gm)).toHaveLength(3);
    const batches = await history(client, topic);
    expect(batches.map((b) => [b.id, b.records, b.ranges.length])).toEqual([
      [1, 0, 0],
      [2, 0, 0],
      [3, 0, 0],
    ]);
    expect(executor.stderr).toContain('registered with the driver');
    expect(executor.stderr).not.toMatch(/"msg":"task (finished|failed)"/);
    expect(await client.hgetall(`sluice:{${topic}}:offsets`)).toEqual({ [`${topic}:0`]: '0', [`${topic}:1`]: '0', [`${topic}:2`]: '0' });
  });
});
