import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertContiguous, assertExactlyOnce } from '../helpers/invariants';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, history, redis } from '../helpers/redis';

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
    const run = sluice([
      'run',
      '--job',
      'examples/audit',
      '--executors',
      '2',
      '--until',
      'latest',
      '--topics',
      topic,
      '--name',
      topic,
      '--batch-interval-ms',
      '200',
      '--max-rate-per-partition',
      '20000',
    ]);
    await run.succeeds(150_000);

    assertExactlyOnce(await auditCounts(client, topic), values);
    const ends = await endOffsets(topic);
    expect(await checkpoint(client, topic)).toEqual(ends);

    const batches = await history(client, topic);
    expect(batches.length).toBeGreaterThan(1);
    const start = Object.fromEntries(Object.keys(ends).map((key) => [key, '0']));
    expect(assertContiguous(batches, start)).toEqual(ends);
    expect(batches.reduce((n, b) => n + b.records, 0)).toBe(values.length);
    // Both executors took part.
    expect(new Set(batches.flatMap((b) => b.ranges.map((r) => r.executor)))).toEqual(new Set(['executor-1', 'executor-2']));
    // One line per batch on stdout.
    expect(run.stdout.match(/^batch \d+: \d+ records/gm)?.length).toBe(batches.length);
  });
});
