import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { brokers, uniqueName } from '../helpers/env';
import { OwnRedis } from '../helpers/cluster';
import { batchPhase, driverUrl, getJson, produceInBatches, smallChunks, waitForPhase } from '../helpers/fault';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, checkpoint, history, waitForCheckpoint } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

const PARTITIONS = 4;
const PER_PARTITION = 800;

describe('Redis failures (a Redis of our own, AOF fsynced on every write)', () => {
  let server: OwnRedis;
  let client: Redis;
  beforeEach(async () => {
    server = await OwnRedis.start();
    client = server.client();
  });
  afterEach(async () => {
    await killAll();
    client.disconnect();
    await server.destroy();
  });

  async function startJob(name: string): Promise<{ topic: string; values: string[]; driver: SluiceProcess; url: string }> {
    const topic = uniqueName(name);
    await createTopic(topic, PARTITIONS);
    const values = Array.from({ length: PARTITIONS * PER_PARTITION }, (_, i) => `${name}-${i}`);
    await produceInBatches(brokers(), topic, values, PARTITIONS);
    const job = [...jobArgs('test/jobs/slow-audit.js', topic), '--batch-interval-ms', '500', '--max-rate-per-partition', '400'];
    const port = String(await freePort());
    const env = { REDIS_URL: server.url };
    const driver = sluice(['driver', ...job, '--grpc-port', port], { ...env, LOG_LEVEL: 'info' });
    for (const id of ['e1', 'e2'])
      sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`, '--id', id], { ...env, SLOW_MS_PER_RECORD: '5', ...smallChunks(50) });
    return { topic, values, driver, url: await driverUrl(driver) };
  }

  async function drained(topic: string, values: string[], driver: SluiceProcess): Promise<void> {
    const ends = await endOffsets(topic);
    await waitForCheckpoint(client, topic, ends, { processes: [driver] });
    await waitFor(async () => (await batchPhase(client, topic)).phase === 'idle' || undefined, { label: 'last batch committed' });
    assertExactlyOnce(await auditCounts(client, topic), values);
    assertRangesCoverFromZero(await history(client, topic), ends);
  }

  it('SIGKILLed mid-task and started again on the same port and data: the job resumes from the checkpoint, exactly once', async () => {
    const { topic, values, driver } = await startJob('redis-kill');
    const { planId } = await waitForPhase(client, topic, 'mid-task');
    const before = await checkpoint(client, topic);
    await server.kill();
    await server.start();
    // Everything acknowledged before the kill is still there (appendfsync always): offsets only move forward.
    const after = await checkpoint(client, topic);
    for (const [key, offset] of Object.entries(before)) expect(BigInt(after[key] ?? '0')).toBeGreaterThanOrEqual(BigInt(offset));
    expect(Number(await client.get(jobKeys(topic).committed))).toBeGreaterThanOrEqual((planId as number) - 1);
    await drained(topic, values, driver);
    driver.kill('SIGTERM');
    expect((await driver.exit(30_000)).code).toBe(0);
  });

  it('down for a while: the driver is not ready (redis-unavailable), its tasks wait for Redis, and the job resumes when it is back', async () => {
    const { topic, values, driver, url } = await startJob('redis-down');
    await waitForPhase(client, topic, 'mid-task');
    await server.kill();
    await waitFor(async () => ((await fetch(`${url}/readyz`)).status === 503 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      label: '/readyz 503',
    });
    await waitFor(
      async () => {
        const status = await getJson<{ state: string }>(`${url}/api/v1/status`);
        return status.body.state === 'redis-unavailable' ? true : status.body;
      },
      { timeoutMs: 30_000, intervalMs: 100, label: 'state redis-unavailable' }
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${driver.stderr.slice(-3000)}`);
    });
    // The tasks in flight fail on Redis and are retried (without counting) for as long as it is down.
    await waitFor(() => /SLUICE_REDIS_UNAVAILABLE/.test(driver.stderr) || undefined, { label: 'a task attempt failed on Redis' });
    expect(driver.child.exitCode).toBeNull();
    await server.start();
    await waitFor(async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      label: '/readyz 200 again',
    }).catch((e: Error) => {
      throw new Error(`${e.message}\ndriver exit code ${driver.child.exitCode}; its stderr:\n${driver.stderr.slice(-3000)}`);
    });
    await drained(topic, values, driver);
    expect((await getJson<{ state: string }>(`${url}/api/v1/status`)).body.state).toBe('running');
    driver.kill('SIGTERM');
    expect((await driver.exit(30_000)).code).toBe(0);
  });
});
