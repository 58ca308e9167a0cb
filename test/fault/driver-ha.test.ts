import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { brokers, uniqueName } from '../helpers/env';
import { driverUrl, getJson, logLines, produceInBatches, smallChunks, waitForAliveExecutors, waitForPhase } from '../helpers/fault';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, history, redis, waitForCheckpoint } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

const PARTITIONS = 4;
const PER_PARTITION = 800;

/**
 * A job whose batches take about a second: 200 records per partition per batch (400/s × 0.5 s),
 * 5 ms per record, committed every 50 records; two executors of two slots for four partitions.
 */
async function setUp(name: string): Promise<{ topic: string; values: string[]; job: string[] }> {
  const topic = uniqueName(name);
  await createTopic(topic, PARTITIONS);
  const values = Array.from({ length: PARTITIONS * PER_PARTITION }, (_, i) => `${name}-${i}`);
  await produceInBatches(brokers(), topic, values, PARTITIONS);
  return {
    topic,
    values,
    job: [...jobArgs('test/jobs/slow-audit.js', topic), '--batch-interval-ms', '500', '--max-rate-per-partition', '400'],
  };
}

const driverEnv = { SLUICE_DRIVER_LEASE_TTL_MS: '2000', LOG_LEVEL: 'info' };
const executorEnv = { SLOW_MS_PER_RECORD: '5', ...smallChunks(50) };

function executors(job: string[], ports: string[]): SluiceProcess[] {
  const drivers = ports.map((p) => `127.0.0.1:${p}`).join(',');
  return ['e1', 'e2'].map((id) => sluice(['executor', ...job, '--driver', drivers, '--id', id], executorEnv));
}

async function assertDrained(client: Redis, topic: string, values: string[], ...processes: SluiceProcess[]): Promise<void> {
  const ends = await endOffsets(topic);
  await waitForCheckpoint(client, topic, ends, { processes });
  assertExactlyOnce(await auditCounts(client, topic), values);
  assertRangesCoverFromZero(await history(client, topic), ends);
  expect(await client.hget(jobKeys(topic).planned, 'id').then((id) => Number(id ?? 0))).toBeLessThanOrEqual(
    Number(await client.get(jobKeys(topic).committed))
  );
}

describe('driver failures', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('SIGKILL of the leader mid-task: the standby takes over, replays the planned batch, executors follow it without a restart', async () => {
    const { topic, values, job } = await setUp('ha-kill');
    const [portA, portB] = [String(await freePort()), String(await freePort())];
    const leader = sluice(['driver', ...job, '--grpc-port', portA], driverEnv);
    await leader.waitForOutput(/"msg":"driver started"/);
    const standby = sluice(['driver', ...job, '--grpc-port', portB, '--standby'], driverEnv);
    const standbyUrl = await driverUrl(standby);
    await waitFor(async () => (await getJson<{ state: string }>(`${standbyUrl}/api/v1/status`)).body.state === 'standby' || undefined, {
      label: 'standby state',
    });
    expect((await fetch(`${standbyUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${standbyUrl}/healthz`)).status).toBe(200);
    const [e1, e2] = executors(job, [portA, portB]);

    const { planId, epoch } = await waitForPhase(client, topic, 'mid-task');
    leader.kill('SIGKILL');
    await standby.waitForOutput(/driver started: leading \(took over the lease\)/, 30_000);
    await waitForAliveExecutors(standbyUrl, ['e1', 'e2']);
    await assertDrained(client, topic, values, standby);

    expect(logLines(standby, 'replaying a planned but uncommitted batch')).toEqual([
      expect.objectContaining({ batch: planId, plannedEpoch: epoch }),
    ]);
    const batches = await history(client, topic);
    const replayed = batches.find((b) => b.id === planId);
    expect(BigInt(replayed?.epoch ?? 0)).toBeGreaterThan(BigInt(epoch ?? 0));
    // The executors never restarted: the same processes served both drivers.
    expect(e1?.child.exitCode).toBeNull();
    expect(e2?.child.exitCode).toBeNull();
    standby.kill('SIGTERM');
    expect((await standby.exit(30_000)).code).toBe(0);
  });

  it('SIGSTOP of the leader: the standby takes over; the old leader, resumed, commits nothing and exits with SLUICE_LEASE_LOST', async () => {
    const { topic, values, job } = await setUp('ha-pause');
    const [portA, portB] = [String(await freePort()), String(await freePort())];
    const leader = sluice(['driver', ...job, '--grpc-port', portA], driverEnv);
    await leader.waitForOutput(/"msg":"driver started"/);
    const standby = sluice(['driver', ...job, '--grpc-port', portB, '--standby'], driverEnv);
    await standby.waitForOutput(/standing by/);
    executors(job, [portA, portB]);

    const { planId, epoch: oldEpoch } = await waitForPhase(client, topic, 'mid-task');
    leader.kill('SIGSTOP');
    await standby.waitForOutput(/driver started: leading \(took over the lease\)/, 30_000);
    // The new leader commits a batch after the replayed one before the old one wakes up.
    await waitFor(async () => (await history(client, topic)).some((b) => b.id > (planId as number)) || undefined, {
      timeoutMs: 30_000,
      label: 'a batch committed by the new leader',
    });
    const before = await history(client, topic);
    leader.kill('SIGCONT');
    const { code } = await leader.exit(30_000);
    expect(code).not.toBe(0);
    expect(leader.stderr).toMatch(/sluice: \[SLUICE_LEASE_LOST\]/);

    await assertDrained(client, topic, values, standby, leader);
    const after = await history(client, topic);
    // Nothing under the old epoch after the pause: the batch it was running was committed by the new leader.
    expect(after.filter((b) => b.epoch === oldEpoch).map((b) => b.id)).toEqual(before.filter((b) => b.epoch === oldEpoch).map((b) => b.id));
    expect(after.filter((b) => b.epoch === oldEpoch).every((b) => b.id < (planId as number))).toBe(true);
    standby.kill('SIGTERM');
    expect((await standby.exit(30_000)).code).toBe(0);
  });

  it('SIGTERM mid-batch: the batch in flight commits, no planned batch is left, exit 0', async () => {
    const { topic, job } = await setUp('drv-term');
    const port = String(await freePort());
    const driver = sluice(['driver', ...job, '--grpc-port', port], driverEnv);
    executors(job, [port]);
    const { planId } = await waitForPhase(client, topic, 'mid-task');
    driver.kill('SIGTERM');
    expect(await driver.exit(30_000)).toEqual({ code: 0, signal: null });
    expect(Number(await client.get(jobKeys(topic).committed))).toBe(planId);
    expect(await client.hget(jobKeys(topic).planned, 'id')).toBeNull();
    const batches = await history(client, topic);
    expect(batches.map((b) => b.id)).toEqual(Array.from({ length: planId as number }, (_, i) => i + 1));
    assertExactlyOnce(
      await auditCounts(client, topic),
      // Exactly the values of the committed ranges: value i went to partition i % PARTITIONS at offset floor(i / PARTITIONS).
      Array.from({ length: PARTITIONS * PER_PARTITION }, (_, i) => i)
        .filter((i) => BigInt(Math.floor(i / PARTITIONS)) < BigInt(committedEnds(batches)[`${topic}:${i % PARTITIONS}`] ?? '0'))
        .map((i) => `drv-term-${i}`)
    );
  });
});

/** Per partition, where the committed ranges end. */
function committedEnds(batches: Awaited<ReturnType<typeof history>>): Record<string, string> {
  const ends: Record<string, string> = {};
  for (const r of batches.flatMap((b) => b.ranges)) ends[`${r.topic}:${r.partition}`] = r.until;
  return ends;
}
