import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, withProducer } from '../helpers/kafka';
import { jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, redis } from '../helpers/redis';

jest.setTimeout(60_000);

describe('bounded runs: --until offsets | timestamp', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  /** 100 records per partition of 2, record i stamped at base + i ms. */
  const topicWithTimes = async (): Promise<{ topic: string; base: number }> => {
    const topic = uniqueName('until');
    await createTopic(topic, 2);
    const base = Date.now() - 60_000;
    await withProducer((producer) =>
      producer.send({
        topic,
        messages: Array.from({ length: 200 }, (_, i) => ({
          value: `u${i}`,
          partition: i % 2,
          timestamp: String(base + Math.floor(i / 2)),
        })),
      })
    );
    return { topic, base };
  };

  it('stops at explicit offsets, leaving partitions not named unread, and exits 0', async () => {
    const { topic } = await topicWithTimes();
    const run = sluice([
      'run',
      ...jobArgs('examples/audit', topic),
      '--executors',
      '1',
      '--until',
      JSON.stringify({ [topic]: { '0': 40 } }),
    ]);
    await run.succeeds(30_000);
    // Partition 0 holds u0, u2, u4, ...: its first 40 records.
    assertExactlyOnce(
      await auditCounts(client, topic),
      Array.from({ length: 40 }, (_, i) => `u${i * 2}`)
    );
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '40', [`${topic}:1`]: '0' });
  });

  it('stops at the first record at or after a timestamp, in every partition', async () => {
    const { topic, base } = await topicWithTimes();
    const run = sluice([
      'run',
      ...jobArgs('examples/audit', topic),
      '--executors',
      '1',
      '--until',
      JSON.stringify({ timestamp: base + 30 }),
    ]);
    await run.succeeds(30_000);
    // Records stamped before base + 30: u0..u59 (30 per partition).
    assertExactlyOnce(
      await auditCounts(client, topic),
      Array.from({ length: 60 }, (_, i) => `u${i}`)
    );
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '30', [`${topic}:1`]: '30' });
  });

  it('refuses stop offsets beyond the end of a partition, naming it', async () => {
    const { topic } = await topicWithTimes();
    const run = sluice(['driver', ...jobArgs('examples/audit', topic), '--until', JSON.stringify({ [topic]: { '1': 500 } })]);
    const { code } = await run.exit(30_000);
    expect(code).toBe(1);
    expect(run.stderr).toContain(`sluice: [SLUICE_CONFIG_INVALID] 'driver.until' stops ${topic}:1 at 500, beyond its latest offset 100`);
  });
});
