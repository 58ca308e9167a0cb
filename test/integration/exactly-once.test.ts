import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { killAll, runAuditUntilLatest } from '../helpers/processes';
import { redis } from '../helpers/redis';

jest.setTimeout(180_000);

describe('exactly-once end to end', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('counts 100,000 unique values over 8 partitions exactly once, with contiguous ranges and the checkpoint at the end offsets', async () => {
    const topic = uniqueName('eo');
    const partitions = 8;
    await createTopic(topic, partitions);
    const values = Array.from({ length: 100_000 }, (_, i) => `v${i}`);
    await produceValues(topic, values, partitions);

    // A rate cap makes the backlog take several batches, so contiguity across batches is exercised.
    const run = runAuditUntilLatest(topic, { batchIntervalMs: 200, maxRatePerPartition: 20_000 });
    await run.succeeds(150_000);

    const batches = await assertFinishedExactlyOnce(client, topic, values);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.reduce((n, b) => n + b.records, 0)).toBe(values.length);
    // Both executors took part.
    expect(new Set(batches.flatMap((b) => b.ranges.map((r) => r.executor)))).toEqual(new Set(['executor-1', 'executor-2']));
    // Not on a terminal, the progress of the bounded run follows each batch line, ending at 100%.
    expect(run.stdout.trim().split('\n').pop()).toMatch(/ \| 100,000\/100,000 records \(100%\), [\d,]+ records\/s, ETA 0 s$/);
    // One line per batch on stdout.
    expect(run.stdout.match(/^batch \d+: \d+ records/gm)?.length).toBe(batches.length);
  });
});
