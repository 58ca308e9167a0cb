import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { history, redis } from '../helpers/redis';
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
});

function sortRanges<T extends { partition: number }>(ranges: T[]): T[] {
  return [...ranges].sort((a, b) => a.partition - b.partition);
}
