import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { brokers, uniqueName } from '../helpers/env';
import { driverUrl, produceInBatches, smallChunks } from '../helpers/fault';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { parsePrometheus, sampleValue } from '../helpers/prometheus';
import { checkpoint, history, redis, waitForCheckpoint } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

describe('driver crash between plan and batch commit', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('replays the planned batch with identical ranges after a SIGKILL, and every value stays counted once', async () => {
    const topic = uniqueName('replay');
    await createTopic(topic, 4);
    const values = Array.from({ length: 2000 }, (_, i) => `r${i}`);
    await produceValues(topic, values, 4);
    const keys = jobKeys(topic);
    const entered = `${keys.output('gate-entered')}`;
    const port = String(await freePort());
    const job = jobArgs('test/jobs/gated-audit.js', topic);
    const driverArgs = [
      'driver',
      ...job,
      '--until',
      'latest',
      '--grpc-port',
      port,
      '--batch-interval-ms',
      '500',
      '--max-rate-per-partition',
      '400',
    ];

    // First life: the executor blocks inside the first chunk, so batch 1 is planned and in flight.
    const driver = sluice(driverArgs);
    const blocked = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`], { GATE_AFTER_CHUNKS: '0', GATE_ENTERED_KEY: entered });
    await waitFor(async () => (await client.llen(entered)) > 0, { label: 'executor inside batch 1' });
    const planJson = await client.hget(keys.planned, 'plan');
    expect(planJson).not.toBeNull();
    const plan = JSON.parse(planJson as string) as {
      id: number;
      epoch: string;
      ranges: Array<{ topic: string; partition: number; from: string; until: string }>;
    };
    expect(plan.id).toBe(1);
    driver.kill('SIGKILL');
    blocked.kill('SIGKILL');
    await Promise.all([driver.exit(), blocked.exit()]);
    expect(await client.get(keys.committed)).toBeNull();

    // Second life: a new driver (new epoch) replays batch 1 as planned, then drains the rest.
    const restarted = sluice(driverArgs);
    sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`]);
    await restarted.succeeds(90_000);
    expect(restarted.stdout).toMatch(/^batch 1: .*\(replayed\)/m);

    const batches = await history(client, topic);
    const first = batches[0];
    expect(first?.id).toBe(1);
    expect(BigInt(first?.epoch ?? 0)).toBeGreaterThan(BigInt(plan.epoch));
    const planned = plan.ranges
      .filter((r) => r.from !== r.until)
      .map(({ topic: t, partition, from, until }) => ({ topic: t, partition, from, until }));
    const replayed = first?.ranges.map(({ topic: t, partition, from, until }) => ({ topic: t, partition, from, until }));
    expect(sortRanges(replayed ?? [])).toEqual(sortRanges(planned));

    await assertFinishedExactlyOnce(client, topic, values);
  });

  it('counts the records committed before the replay once: history, totals, sluice status and metrics', async () => {
    const topic = uniqueName('replay-count');
    const partitions = 4;
    await createTopic(topic, partitions);
    const values = Array.from({ length: 2000 }, (_, i) => `c${i}`);
    // Record batches of 50 per partition, read one per Fetch: tasks commit 50 records at a time.
    await produceInBatches(brokers(), topic, values, partitions, 50);
    const keys = jobKeys(topic);
    const entered = keys.output('gate-entered');
    const port = String(await freePort());
    const job = jobArgs('test/jobs/gated-audit.js', topic);
    // Batches of 200 records per partition; no task groups, so every task reads chunk by chunk.
    const driverArgs = ['driver', ...job, '--grpc-port', port, '--batch-interval-ms', '500', '--max-rate-per-partition', '400'];
    const driverEnv = { SLUICE_DRIVER_TASK_GROUP_RECORDS: '0' };

    // First life: one task at a time; six chunks of batch 1 commit (one range whole, half of
    // another), then the executor blocks, and the driver dies before the batch commit.
    const driver = sluice(driverArgs, driverEnv);
    const blocked = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`], {
      ...smallChunks(50),
      SLUICE_EXECUTOR_SLOTS: '1',
      GATE_AFTER_CHUNKS: '6',
      GATE_ENTERED_KEY: entered,
    });
    const committedOffsets = async (): Promise<number[]> =>
      Object.values(await checkpoint(client, topic))
        .map(Number)
        .sort((a, b) => a - b);
    await waitFor(async () => (await client.llen(entered)) > 0 && (await committedOffsets()).join() === '0,0,100,200', {
      label: 'a range and a half of batch 1 committed, the executor blocked',
    });
    driver.kill('SIGKILL');
    blocked.kill('SIGKILL');
    await Promise.all([driver.exit(), blocked.exit()]);
    expect(await client.get(keys.committed)).toBeNull();

    // Second life: the replay finds one range committed (ALREADY_COMMITTED) and resumes another mid-way.
    const restarted = sluice(driverArgs, driverEnv);
    sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`], smallChunks(50));
    const url = await driverUrl(restarted);
    await restarted.waitForOutput(/^batch 1: 800 records, .*\(replayed\)$/m);
    await waitForCheckpoint(client, topic, await endOffsets(topic), { processes: [restarted] });
    // The driver goes on with empty batches: they count no records, so the figures below stay put.
    await waitFor(async () => (await history(client, topic)).filter((b) => b.records > 0).length === 3, {
      label: 'three batches with records committed',
    });

    const bytesOf = (list: string[]): number => list.reduce((n, v) => n + Buffer.byteLength(v), 0);
    const batches = (await assertFinishedExactlyOnce(client, topic, values)).filter((b) => b.records > 0);
    expect(batches.map((b) => [b.id, b.records, b.bytes])).toEqual([
      [1, 800, bytesOf(values.slice(0, 800))],
      [2, 800, bytesOf(values.slice(800, 1600))],
      [3, 400, bytesOf(values.slice(1600))],
    ]);
    expect(batches[0]?.ranges.map((r) => [r.partition, r.records]).sort()).toEqual([0, 1, 2, 3].map((p) => [p, 200]));

    const status = sluice(['status', '--name', topic]);
    await status.succeeds(30_000);
    expect(status.stdout).toMatch(new RegExp(`^totals\\s+\\d+ batches, 2000 records, ${bytesOf(values)} bytes$`, 'm'));
    const api = (await (await fetch(`${url}/api/v1/status`)).json()) as { totals: { records: number; bytes: number } };
    expect(api.totals).toMatchObject({ records: 2000, bytes: bytesOf(values) });
    const metrics = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(metrics, 'sluice_batch_records_total', { topic })).toBe(2000);
    expect(sampleValue(metrics, 'sluice_batch_bytes_total')).toBe(bytesOf(values));
  });
});

function sortRanges<T extends { partition: number }>(ranges: T[]): T[] {
  return [...ranges].sort((a, b) => a.partition - b.partition);
}
