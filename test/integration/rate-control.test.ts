import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, history, redis } from '../helpers/redis';

jest.setTimeout(120_000);

describe('rate control', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  const backlog = async (prefix: string, count: number, partitions: number): Promise<{ topic: string; values: string[] }> => {
    const topic = uniqueName(prefix);
    await createTopic(topic, partitions);
    const values = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    await produceValues(topic, values, partitions);
    return { topic, values };
  };

  it('never plans more than maxRatePerPartition x interval or maxRecordsPerBatch', async () => {
    const { topic, values } = await backlog('cap', 200_000, 4);
    const run = sluice(
      ['run', ...jobArgs('examples/audit', topic), '--executors', '1', '--until', 'latest', '--batch-interval-ms', '200'],
      {
        SLUICE_JOB_MAX_RATE_PER_PARTITION: '10000', // 2,000 records per partition per 200 ms batch
        SLUICE_JOB_MAX_RECORDS_PER_BATCH: '6000', // 1,500 per partition when the backlog is even
      }
    );
    await run.succeeds(90_000);
    const batches = await history(client, topic);
    const sizes = batches.flatMap((b) => b.ranges.map((r) => Number(BigInt(r.until) - BigInt(r.from))));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1500);
    expect(batches.every((b) => b.records <= 6000)).toBe(true);
    assertExactlyOnce(await auditCounts(client, topic), values);
    assertRangesCoverFromZero(batches, await endOffsets(topic));
  });

  it('with backpressure, batch sizes converge so that processing time stays near the batch interval', async () => {
    const { topic, values } = await backlog('bp', 40_000, 2);
    // 0.5 ms per record: each task sustains 2,000 records/s, the two partitions 4,000 records/s.
    const run = sluice(
      ['run', ...jobArgs('test/jobs/slow-audit.js', topic), '--executors', '1', '--until', 'latest', '--batch-interval-ms', '500'],
      { SLOW_MS_PER_RECORD: '0.5', SLUICE_JOB_BACKPRESSURE: 'true', SLUICE_JOB_INITIAL_RATE: '12000' }
    );
    await run.succeeds(100_000);
    const batches = await history(client, topic);
    // The first batch follows initialRate (6,000 records, about 1.5 s of work). The delay it causes
    // drives the estimate down (Spark's integral term), then it recovers to about 4,000 records/s:
    // the batches before the last (which holds only what is left) take about one interval.
    expect(batches[0]?.records).toBe(6000);
    const settled = batches.slice(-6, -1);
    expect(settled.map((b) => b.processingMs).every((ms) => ms > 250 && ms < 1000)).toBe(true);
    assertExactlyOnce(await auditCounts(client, topic), values);
  });
});
