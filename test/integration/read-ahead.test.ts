import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertContiguous, assertExactlyOnce } from '../helpers/invariants';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { parsePrometheus, sampleValue } from '../helpers/prometheus';
import { auditCounts, history, redis, waitForCheckpoint } from '../helpers/redis';

jest.setTimeout(120_000);

async function readAheadRecords(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return sampleValue(parsePrometheus(text), 'sluice_executor_read_ahead_records_total');
}

describe('executor read-ahead against a real broker', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('a live stream: records produced between batches reach their tasks through the read-ahead, each counted exactly once', async () => {
    const topic = uniqueName('read-ahead');
    const partitions = 4;
    await createTopic(topic, partitions);
    const job = jobArgs('examples/audit', topic);
    const grpcPort = String(await freePort());
    const httpPort = String(await freePort());
    const driver = sluice(['driver', ...job, '--starting-offsets', 'earliest', '--batch-interval-ms', '200', '--grpc-port', grpcPort]);
    const executor = sluice(['executor', ...job, '--driver', `127.0.0.1:${grpcPort}`, '--http-port', httpPort]);
    const metricsUrl = `http://127.0.0.1:${httpPort}`;

    // Waves of records while the job runs: the first is read by the tasks themselves; after it the
    // executor follows every partition with a long-polling Fetch, which the next waves answer.
    const values: string[] = [];
    const waves = 8;
    let firstWave = 0;
    for (let wave = 0; wave < waves; wave++) {
      const batch = Array.from({ length: 40 }, (_, i) => `w${wave}-${i}`);
      await produceValues(topic, batch, partitions);
      values.push(...batch);
      await waitForCheckpoint(client, topic, await endOffsets(topic), { processes: [driver, executor] });
      if (wave === 0) firstWave = await readAheadRecords(metricsUrl);
    }
    assertExactlyOnce(await auditCounts(client, topic), values);
    assertContiguous(await history(client, topic));
    expect(firstWave).toBe(0);
    const taken = await readAheadRecords(metricsUrl);
    expect(taken).toBeLessThanOrEqual(values.length - 40);
    // Most records of the later waves came from memory (a wave split over two batches, or a range
    // longer than twice the last one, is partly read by its task).
    expect(taken).toBeGreaterThanOrEqual((values.length - 40) / 2);
  });
});
