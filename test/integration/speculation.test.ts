import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { redis } from '../helpers/redis';

jest.setTimeout(120_000);

describe('speculation', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it("runs copies of a slow executor's tasks on a fast one; the first to commit wins, exactly once, both listed", async () => {
    const topic = uniqueName('speculation');
    await createTopic(topic, 4);
    // 1000 records per partition: above the size of the small ranges sent in groups (never speculated).
    const values = Array.from({ length: 4000 }, (_, i) => `s${i}`);
    await produceValues(topic, values, 4);
    const port = String(await freePort());
    const job = jobArgs('test/jobs/slow-audit.js', topic);

    const driver = sluice(['driver', ...job, '--until', 'latest', '--grpc-port', port, '--min-executors', '2'], {
      SLUICE_DRIVER_SPECULATION: 'true',
      // Two tasks per executor: half of the tasks finished is enough to judge the others.
      SLUICE_DRIVER_SPECULATION_QUANTILE: '0.5',
    });
    const executor = (id: string, msPerRecord: string): void =>
      void sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', id], {
        SLOW_MS_PER_RECORD: msPerRecord,
        // The slow one commits part of its range before the copy starts: the copy resumes from there.
        SLUICE_EXECUTOR_MAX_CHUNK_RECORDS: '50',
      });
    executor('slow', '25'); // 1000 records take 25 s
    executor('fast', '0.5');

    await driver.succeeds(60_000);
    const batches = await assertFinishedExactlyOnce(client, topic, values);

    const speculated = batches.flatMap((b) => b.ranges).filter((r) => r.copies !== undefined);
    expect(speculated.length).toBeGreaterThanOrEqual(1);
    for (const range of speculated) {
      // The copy on the fast executor won; the original on the slow one is listed as the loser.
      expect(range).toMatchObject({ executor: 'fast', speculative: true });
      expect(range.copies).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ executor: 'slow', speculative: false, outcome: 'lost' }),
          expect.objectContaining({ executor: 'fast', speculative: true, outcome: 'won' }),
        ])
      );
    }
  });
});
