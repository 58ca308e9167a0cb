import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets, withProducer } from '../helpers/kafka';
import { jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, history, redis } from '../helpers/redis';

jest.setTimeout(120_000);

describe('skew splitting (minPartitions)', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('reads a partition holding 90% of the records with several executors at once, exactly once', async () => {
    const topic = uniqueName('skew');
    await createTopic(topic, 4);
    const values = Array.from({ length: 20_000 }, (_, i) => `s${i}`);
    // 18,000 records in partition 0, 2,000 spread over the other three.
    await withProducer(async (producer) => {
      for (let start = 0; start < values.length; start += 5000) {
        const slice = values.slice(start, start + 5000);
        await producer.send({
          topic,
          messages: slice.map((value, i) => ({ value, partition: start + i < 18_000 ? 0 : 1 + ((start + i) % 3) })),
        });
      }
    });

    // A slightly slow job (0.05 ms per record) keeps the pieces running side by side.
    const run = sluice(['run', ...jobArgs('test/jobs/slow-audit.js', topic), '--executors', '3', '--until', 'latest'], {
      SLOW_MS_PER_RECORD: '0.05',
      SLUICE_JOB_MIN_PARTITIONS: '12',
      SLUICE_EXECUTOR_MAX_CHUNK_RECORDS: '500',
    });
    await run.succeeds(90_000);

    assertExactlyOnce(await auditCounts(client, topic), values);
    const batches = await history(client, topic);
    assertRangesCoverFromZero(batches, await endOffsets(topic));
    const first = batches[0]?.ranges.filter((r) => r.partition === 0) ?? [];
    expect(first.length).toBeGreaterThanOrEqual(8);
    expect(new Set(first.map((r) => r.executor)).size).toBe(3);
    expect(await client.hlen(`sluice:{${topic}}:stages`)).toBe(0);
  });
});
