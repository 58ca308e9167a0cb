import type Redis from 'ioredis';
import { jobKeys, type BatchSummary } from '@sluice/common';
import type { StatusReport } from '../../packages/cli/src/operator';
import { uniqueName } from '../helpers/env';
import { createTopic, endOffsets, groupOffsets, produceValues, withProducer } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { parsePrometheus, sampleValue } from '../helpers/prometheus';
import { assertExactlyOnce } from '../helpers/invariants';
import { auditCounts, checkpoint, history, redis, waitForCheckpoint } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(180_000);

async function get<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

describe('observability and operations', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('serves metrics with the true lag, a consistent JSON API and health; offsets reset is refused while the driver runs and applied after', async () => {
    const topic = uniqueName('obs');
    const partitions = 2;
    await createTopic(topic, partitions);
    // Record i goes to partition i % 2 at offset i / 2, stamped an hour ago plus i seconds.
    const stampedAt = Date.now() - 3_600_000;
    const values = Array.from({ length: 1000 }, (_, i) => `o${i}`);
    await withProducer((producer) =>
      producer.send({
        topic,
        acks: -1,
        messages: values.map((value, i) => ({ value, partition: i % partitions, timestamp: String(stampedAt + i * 1000) })),
      })
    );
    const job = jobArgs('examples/audit', topic);
    const port = String(await freePort());
    const executorHttpPort = await freePort();
    const driverStarted = Date.now();
    // One batch of 300 records per partition right away, the next one only after a minute: lag remains.
    const driver = sluice([
      'driver',
      ...job,
      '--starting-offsets',
      'earliest',
      '--batch-interval-ms',
      '60000',
      '--max-rate-per-partition',
      '5',
      '--grpc-port',
      port,
    ]);
    const executor = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', 'obs-executor'], {
      SLUICE_EXECUTOR_HTTP_PORT: String(executorHttpPort),
    });
    const [, url] = await driver.waitForOutput(/HTTP server \(UI, API, metrics\) at (http:\/\/\S+)/);
    const batchCommitted = await waitFor(() => (/^batch 1: 600 records/m.test(driver.stdout) ? Date.now() : undefined), {
      label: 'batch 1 committed',
    });
    // A standby driver of the same job: its /metrics must not repeat the job's gauges.
    const standbyUrl = `http://127.0.0.1:${await freePort()}`;
    const standby = sluice(['driver', ...job, '--standby'], { SLUICE_DRIVER_HTTP_PORT: standbyUrl.split(':')[2] });
    await standby.waitForOutput(/standing by: another driver leads/);

    expect((await get(`${url}/healthz`)).status).toBe(200);
    await waitFor(async () => (await get(`${url}/readyz`)).status === 200, { label: '/readyz 200' });

    const ends = await endOffsets(topic);
    const committed = await checkpoint(client, topic);
    const trueLag = Object.fromEntries(
      Object.keys(ends).map((k) => [k, Number(BigInt(ends[k] as string) - BigInt(committed[k] as string))])
    );
    expect(Object.values(trueLag)).toEqual([200, 200]);

    // /metrics: lag gauges per partition, equal to latest - checkpoint, and the age of the oldest
    // record not processed (the one at offset 300: record 600 + p, stamped 600 + p seconds after
    // stampedAt), as of the scrape.
    const scrapeStarted = Date.now();
    const metrics = parsePrometheus((await get<string>(`${url}/metrics`)).body);
    const scrapeEnded = Date.now();
    for (let p = 0; p < partitions; p++) {
      const labels = { topic, partition: String(p) };
      expect(sampleValue(metrics, 'sluice_partition_lag_offsets', labels)).toBe(trueLag[`${topic}:${p}`]);
      const oldest = stampedAt + (600 + p) * 1000;
      const lagSeconds = sampleValue(metrics, 'sluice_partition_lag_seconds', labels);
      expect(lagSeconds).toBeGreaterThanOrEqual((scrapeStarted - oldest) / 1000);
      expect(lagSeconds).toBeLessThanOrEqual((scrapeEnded - oldest) / 1000);
    }
    // Aggregates are the monitoring system's job (the chart's recording rules), not labels of a gauge.
    expect(metrics.filter((s) => 'stat' in s.labels)).toEqual([]);
    expect(sampleValue(metrics, 'sluice_batches_total', { outcome: 'committed' })).toBe(1);
    expect(sampleValue(metrics, 'sluice_batch_records_total', { topic })).toBe(600);
    expect(sampleValue(metrics, 'sluice_batch_offsets_total', { topic })).toBe(600);
    expect(sampleValue(metrics, 'sluice_batch_task_duration_seconds_count')).toBe(2);
    expect(sampleValue(metrics, 'sluice_batch_interval_seconds')).toBe(60);
    const committedAt = sampleValue(metrics, 'sluice_last_committed_batch_timestamp_seconds');
    expect(committedAt).toBeGreaterThan(driverStarted / 1000);
    expect(committedAt).toBeLessThanOrEqual(batchCommitted / 1000);
    expect(sampleValue(metrics, 'sluice_executors_live')).toBe(1);
    expect(sampleValue(metrics, 'sluice_leader')).toBe(1);
    expect(sampleValue(metrics, 'sluice_dead_letter_queue_size')).toBe(0);
    expect(metrics.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    const build = { version: '0.1.0', node_version: process.versions.node };
    expect(sampleValue(metrics, 'sluice_build_info', { role: 'driver', ...build })).toBe(1);
    expect(metrics.find((s) => s.name === 'sluice_build_info')?.labels.revision).toMatch(/^[0-9a-f]{40}$/);

    // The executor counts what it committed under names of its own: a sum over every target of
    // the job counts each record once.
    const executorMetrics = parsePrometheus((await get<string>(`http://127.0.0.1:${executorHttpPort}/metrics`)).body);
    expect(sampleValue(executorMetrics, 'sluice_executor_records_committed_total')).toBe(600);
    expect(sampleValue(executorMetrics, 'sluice_executor_tasks_total', { outcome: 'committed' })).toBe(2);
    expect(sampleValue(executorMetrics, 'sluice_build_info', { role: 'executor', ...build })).toBe(1);
    const sluiceNames = (samples: typeof metrics): Set<string> =>
      new Set(samples.filter((m) => m.name.startsWith('sluice_')).map((m) => m.name.replace(/_(bucket|sum|count)$/, '')));
    const driverNames = sluiceNames(metrics);
    expect([...sluiceNames(executorMetrics)].filter((name) => driverNames.has(name))).toEqual(['sluice_build_info']);

    // The standby reports itself, not the job: no lag series to add to the leader's.
    const standbyMetrics = parsePrometheus((await get<string>(`${standbyUrl}/metrics`)).body);
    expect(sampleValue(standbyMetrics, 'sluice_leader')).toBe(0);
    expect(standbyMetrics.filter((m) => m.name.startsWith('sluice_partition_lag'))).toEqual([]);
    standby.kill('SIGTERM');

    // JSON API: consistent with the Redis history and the checkpoint.
    const redisHistory = await history(client, topic);
    const status = (
      await get<{
        job: string;
        state: string;
        totals: { batches: number; records: number; bytes: number };
        lastBatch: BatchSummary;
        topics: string[];
      }>(`${url}/api/v1/status`)
    ).body;
    expect(status.job).toBe(topic);
    expect(status.state).toBe('running');
    expect(status.topics).toEqual([topic]);
    expect(status.totals).toEqual({
      batches: redisHistory.length,
      records: redisHistory.reduce((n, b) => n + b.records, 0),
      bytes: redisHistory.reduce((n, b) => n + b.bytes, 0),
    });
    expect(status.lastBatch).toEqual(redisHistory[redisHistory.length - 1]);
    const batches = (await get<{ active: unknown[]; completed: BatchSummary[] }>(`${url}/api/v1/batches?limit=10`)).body;
    expect(batches.completed).toEqual([...redisHistory].reverse());
    expect((await get<BatchSummary>(`${url}/api/v1/batches/1`)).body).toEqual(redisHistory[0]);
    const missing = await get<{ error: string }>(`${url}/api/v1/batches/999`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/999/);
    const offsets = (
      await get<Array<{ topic: string; partition: number; committed: string; latest: string; earliest: string }>>(`${url}/api/v1/offsets`)
    ).body;
    expect(Object.fromEntries(offsets.map((o) => [`${o.topic}:${o.partition}`, o.committed]))).toEqual(committed);
    expect(Object.fromEntries(offsets.map((o) => [`${o.topic}:${o.partition}`, o.latest]))).toEqual(ends);
    const lag = (
      await get<{ total: string; min: number; max: number; avg: number; maxSeconds: number; partitions: Array<{ lagSeconds: number }> }>(
        `${url}/api/v1/lag`
      )
    ).body;
    expect(lag).toMatchObject({ total: '400', min: 200, max: 200, avg: 200 });
    // Partition 0's oldest record (600) is a second older than partition 1's (601).
    expect(lag.partitions[0]?.lagSeconds).toBeCloseTo((lag.partitions[1]?.lagSeconds ?? 0) + 1, 1);
    expect(lag.maxSeconds).toBe(lag.partitions[0]?.lagSeconds);
    const executors = (await get<Array<{ id: string; state: string; finishedTasks: number }>>(`${url}/api/v1/executors`)).body;
    expect(executors).toEqual([expect.objectContaining({ id: 'obs-executor', state: 'alive', finishedTasks: 2, failedTasks: 0 })]);
    expect((await get(`${url}/no/such/path`)).status).toBe(404);

    // Operator CLI while the driver runs: status shows the leader; reset is refused.
    const statusCli = sluice(['status', '--name', topic, '--driver-url', url as string]);
    await statusCli.succeeds(30_000);
    expect(statusCli.stdout).toMatch(/^leader\s+\S+ \(lease/m);
    expect(statusCli.stdout).toMatch(/^total lag\s+400$/m);
    // status --json: the same figures, machine-readable, offsets as strings.
    const statusJson = sluice(['status', '--name', topic, '--json']);
    await statusJson.succeeds(30_000);
    const report = JSON.parse(statusJson.stdout) as StatusReport;
    expect(report.partitions).toEqual(
      [0, 1].map((partition) => ({ topic, partition, committed: '300', earliest: '0', latest: '500', lag: '200' }))
    );
    expect([report.job, report.totalLag, report.epoch, typeof report.leader?.owner]).toEqual([topic, '400', '1', 'string']);
    expect(report.lastBatch).toEqual(redisHistory[redisHistory.length - 1]);
    // Without --execute, reset only previews: the current and new offsets, and nothing changes.
    const preview = sluice(['offsets', 'reset', '--name', topic, '--to', 'earliest']);
    await preview.succeeds(30_000);
    expect(preview.stdout.split('\n')).toEqual([
      expect.stringMatching(/^TOPIC\s+PARTITION\s+CURRENT\s+NEW\s+EARLIEST\s+LATEST$/),
      expect.stringMatching(new RegExp(`^${topic}\\s+0\\s+300\\s+0\\s+0\\s+500$`)),
      expect.stringMatching(new RegExp(`^${topic}\\s+1\\s+300\\s+0\\s+0\\s+500$`)),
      '',
      expect.stringMatching(/^job '.*' has a live driver \(.*\): --execute will refuse unless --force \(which fences it\)$/),
      'preview only: nothing changed; run again with --execute to apply',
      '',
    ]);
    expect(await checkpoint(client, topic)).toEqual(committed);
    const refused = sluice(['offsets', 'reset', '--name', topic, '--to', 'earliest', '--execute']);
    const { code } = await refused.exit(30_000);
    expect(code).toBe(1);
    expect(refused.stderr).toMatch(/^sluice: \[SLUICE_LEASE_HELD\] job '.*' has a live driver/m);
    expect(await checkpoint(client, topic)).toEqual(committed);

    // A clean stop releases the lease; then the reset applies.
    driver.kill('SIGTERM');
    await driver.succeeds(30_000);
    executor.kill('SIGTERM');
    expect(await client.get(jobKeys(topic).leader)).toBeNull();
    const reset = sluice(['offsets', 'reset', '--name', topic, '--to', 'earliest', '--execute']);
    await reset.succeeds(30_000);
    expect(reset.stdout).toMatch(/^TOPIC\s+PARTITION\s+CURRENT\s+NEW/m);
    expect(reset.stdout).toMatch(/^applied: the checkpoint of job '.*' holds the NEW offsets$/m);
    expect(reset.stdout).toMatch(/planned batch/);
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '0', [`${topic}:1`]: '0' });

    // The next run starts from the reset offsets, and the consumer group mirrors its checkpoint.
    const run = sluice(['run', ...job, '--executors', '1', '--until', 'latest']);
    await run.succeeds(60_000);
    const after = await history(client, topic);
    const firstAfterReset = after[1] as BatchSummary;
    expect(firstAfterReset.ranges.map((r) => r.from)).toEqual(['0', '0']);
    expect(await checkpoint(client, topic)).toEqual(ends);
    expect(await groupOffsets(`sluice-${topic}`)).toEqual(ends);

    const batchesCli = sluice(['batches', '--name', topic, '--limit', '5']);
    await batchesCli.succeeds(30_000);
    expect(batchesCli.stdout.split('\n')[0]).toMatch(/^BATCH\s+TIME\s+RECORDS/);
    const batchesJson = sluice(['batches', '--name', topic, '--limit', '5', '--json']);
    await batchesJson.succeeds(30_000);
    const lines = batchesJson.stdout.trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line) as BatchSummary)).toEqual([...after].reverse().slice(0, 5));
  });

  it('an executor counts every record it committed once, also those of an attempt that failed after committing chunks', async () => {
    const topic = uniqueName('obs-chunks');
    await createTopic(topic, 1);
    const values = Array.from({ length: 1000 }, (_, i) => `c${i}`);
    // Ten Kafka batches of 100; fetched one batch at a time, each is a chunk of its own.
    for (let i = 0; i < 10; i++) await produceValues(topic, values.slice(i * 100, (i + 1) * 100), 1);
    const job = jobArgs('test/jobs/flaky-audit.js', topic);
    const port = String(await freePort());
    const httpPort = await freePort();
    const driver = sluice(['driver', ...job, '--grpc-port', port, '--batch-interval-ms', '500']);
    sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`], {
      SLUICE_EXECUTOR_HTTP_PORT: String(httpPort),
      SLUICE_EXECUTOR_MAX_CHUNK_RECORDS: '100',
      SLUICE_KAFKA_PARTITION_MAX_BYTES: '1',
      // The first attempt commits three chunks (300 records), then fails; the retry commits the other 700.
      FLAKY_PARTITIONS: '0',
      FLAKY_AFTER_CHUNKS: '3',
    });
    await waitForCheckpoint(client, topic, { [`${topic}:0`]: '1000' }, { processes: [driver] });
    assertExactlyOnce(await auditCounts(client, topic), values);
    const metrics = parsePrometheus((await get<string>(`http://127.0.0.1:${httpPort}/metrics`)).body);
    expect(sampleValue(metrics, 'sluice_executor_tasks_total', { outcome: 'failed' })).toBe(1);
    expect(sampleValue(metrics, 'sluice_executor_records_committed_total')).toBe(1000);
  });

  it('offsets set takes JSON and refuses offsets outside the log', async () => {
    const topic = uniqueName('obs-set');
    await createTopic(topic, 1);
    await produceValues(topic, ['a', 'b', 'c'], 1);
    const set = sluice(['offsets', 'set', '--name', topic, '--to', JSON.stringify({ [topic]: { 0: 2 } }), '--execute']);
    await set.succeeds(30_000);
    expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '2' });
    const beyond = sluice(['offsets', 'set', '--name', topic, '--to', JSON.stringify({ [topic]: { 0: 9 } })]);
    expect((await beyond.exit(30_000)).code).toBe(1);
    expect(beyond.stderr).toMatch(/SLUICE_CONFIG_INVALID\] offset 9 for .*-0 is outside its available offsets \[0, 3\]/);
  });
});
