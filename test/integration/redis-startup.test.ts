import { OwnRedis } from '../helpers/cluster';
import { uniqueName } from '../helpers/env';
import { driverUrl, getJson, logLines } from '../helpers/fault';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, history } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(90_000);

/**
 * Drivers and executors started while Redis cannot be reached (nothing listens on its port yet)
 * wait for it, not ready meanwhile, and then run the job exactly once; `redis.startupTimeoutMs`
 * bounds the wait; `sluice run` still fails at once.
 */
describe('Redis not there yet at start-up', () => {
  let server: OwnRedis;
  beforeEach(async () => {
    server = await OwnRedis.reserve();
  });
  afterEach(async () => {
    await killAll();
    await server.destroy();
  });

  const retries = (proc: SluiceProcess): Array<Record<string, unknown>> =>
    logLines(proc, 'Redis cannot be reached yet; not ready, trying again');

  it('a driver and an executor wait, not ready, until Redis starts; then the job runs exactly once', async () => {
    const topic = uniqueName('redis-late');
    await createTopic(topic, 2);
    const values = Array.from({ length: 300 }, (_, i) => `late-${i}`);
    await produceValues(topic, values, 2);
    const [grpcPort, executorHttpPort] = [String(await freePort()), await freePort()];
    const env = { REDIS_URL: server.url, LOG_LEVEL: 'info' };
    const job = [...jobArgs('examples/audit', topic), '--batch-interval-ms', '200'];
    const driver = sluice(['driver', ...job, '--grpc-port', grpcPort, '--until', 'latest'], env);
    const executor = sluice(['executor', ...job, '--driver', `127.0.0.1:${grpcPort}`, '--http-port', String(executorHttpPort)], env);
    const url = await driverUrl(driver);
    const executorUrl = `http://127.0.0.1:${executorHttpPort}`;

    // Both keep trying, each attempt logged with its cause, and say they are not ready.
    await waitFor(() => retries(driver).length >= 2 && retries(executor).length >= 2, { label: 'two retries of each' });
    for (const line of [...retries(driver), ...retries(executor)]) {
      expect(line).toMatchObject({ redis: server.url, err: `connect ECONNREFUSED 127.0.0.1:${server.port}`, startupTimeoutMs: 'none' });
    }
    expect(await getJson(`${url}/readyz`)).toEqual({
      status: 503,
      body: { status: 'not ready', reason: 'driver is waiting-for-redis; this driver does not hold the leader lease' },
    });
    expect(await getJson(`${executorUrl}/readyz`)).toEqual({ status: 503, body: { status: 'not ready', reason: 'waiting for Redis' } });
    expect(await getJson(`${executorUrl}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(driver.child.exitCode).toBeNull();
    expect(executor.child.exitCode).toBeNull();

    await server.start();
    await driver.succeeds(60_000);
    const client = server.client();
    try {
      assertExactlyOnce(await auditCounts(client, topic), values);
      assertRangesCoverFromZero(await history(client, topic), await endOffsets(topic));
    } finally {
      client.disconnect();
    }
    expect(await getJson(`${executorUrl}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('redis.startupTimeoutMs ends the wait: SLUICE_REDIS_UNAVAILABLE after about that long', async () => {
    const topic = uniqueName('redis-never');
    await createTopic(topic, 1);
    const env = { REDIS_URL: server.url, SLUICE_REDIS_STARTUP_TIMEOUT_MS: '2000', LOG_LEVEL: 'info' };
    const job = jobArgs('examples/audit', topic);
    const driver = sluice(['driver', ...job, '--grpc-port', String(await freePort())], env);
    const executor = sluice(['executor', ...job, '--driver', '127.0.0.1:1'], env);
    for (const proc of [driver, executor]) {
      expect((await proc.exit(30_000)).code).toBe(1);
      const [, waited] = new RegExp(
        `^sluice: \\[SLUICE_REDIS_UNAVAILABLE\\] cannot reach Redis at redis://127\\.0\\.0\\.1:${server.port}: ` +
          `connect ECONNREFUSED 127\\.0\\.0\\.1:${server.port} \\(still failing after (\\d+) ms, redis\\.startupTimeoutMs 2000\\)$`,
        'm'
      ).exec(proc.stderr) ?? [proc.stderr];
      expect(Number(waited)).toBeGreaterThanOrEqual(2000);
      expect(Number(waited)).toBeLessThan(3000);
      expect(retries(proc).length).toBeGreaterThanOrEqual(3);
    }
  });

  it('sluice run still fails at once', async () => {
    const topic = uniqueName('redis-run');
    await createTopic(topic, 1);
    const run = sluice(['run', ...jobArgs('examples/audit', topic), '--executors', '1', '--until', 'latest'], {
      REDIS_URL: server.url,
      LOG_LEVEL: 'info',
    });
    const started = Date.now();
    expect((await run.exit(30_000)).code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.stderr).toMatch(
      new RegExp(
        `^sluice: \\[SLUICE_REDIS_UNAVAILABLE\\] cannot reach Redis at redis://127\\.0\\.0\\.1:${server.port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${server.port}$`,
        'm'
      )
    );
    expect(run.stderr).not.toMatch(/trying again/);
  });
});
