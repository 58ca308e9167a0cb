import { readFileSync } from 'node:fs';
import type Redis from 'ioredis';
import { brokers, redisUrl, uniqueName } from '../helpers/env';
import { assertFinishedExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { jobArgs, killAll, sluice } from '../helpers/processes';
import { history, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

/** The process runs (a zombie, exited but not yet reaped by whoever adopted it, does not). */
function running(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, the state follows its ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** `sluice run` as a user meets it: its flags, and an executor that dies under it. */
describe('sluice run', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('--version prints the version; --help names the variables behind --brokers and --redis-url', async () => {
    const version = sluice(['--version']);
    await version.succeeds(15_000);
    expect(version.stdout).toBe('0.1.0\n');
    const help = sluice(['run', '--help']);
    await help.succeeds(15_000);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /--brokers <host:port,...> Kafka bootstrap brokers \(kafka.brokers; env KAFKA_BROKERS;/
    );
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/--redis-url <url> redis:\/\/ or rediss:\/\/ URL \(redis.url; env REDIS_URL;/);
  });

  it('passes --conf, --brokers and --redis-url on to its processes; the flags override the environment', async () => {
    const topic = uniqueName('run-conf');
    await createTopic(topic, 1);
    const run = sluice(
      [
        'run',
        ...jobArgs('examples/audit', topic),
        '--conf',
        'driver.batches=2',
        '--batch-interval-ms',
        '100',
        '--brokers',
        brokers(),
        '--redis-url',
        redisUrl(),
      ],
      { KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' }
    );
    await run.succeeds(60_000);
    expect((await history(client, topic)).map((b) => b.id)).toEqual([1, 2]);
    expect(run.stderr.match(/^sluice run: started executor-\d \(pid \d+\)$/gm)).toHaveLength(2);
  });

  it('reports an executor that dies, restarts it, and the run still finishes exactly once', async () => {
    const topic = uniqueName('run-restart');
    await createTopic(topic, 4);
    const values = Array.from({ length: 4000 }, (_, i) => `r${i}`);
    await produceValues(topic, values, 4);
    // About 20 batches of 200 records: the run outlasts the kill and the restart a second later.
    const run = sluice([
      'run',
      ...jobArgs('examples/audit', topic),
      '--until',
      'latest',
      '--batch-interval-ms',
      '200',
      '--max-rate-per-partition',
      '250',
    ]);
    const [, pid] = await run.waitForOutput(/^sluice run: started executor-1 \(pid (\d+)\)$/m);
    await run.waitForOutput(/^batch 2: /m);
    process.kill(Number(pid), 'SIGKILL');

    await run.waitForOutput(
      new RegExp(
        `^sluice run: \\[SLUICE_EXECUTOR_LOST\\] executor-1 \\(pid ${pid}\\) was killed by SIGKILL; restarting it in 1 s \\(restart 1 of at most 5 in a row\\)$`,
        'm'
      )
    );
    await run.succeeds(90_000);
    const started = [...run.stderr.matchAll(/^sluice run: started executor-1 \(pid (\d+)\)$/gm)].map((m) => m[1]);
    expect(started).toEqual([pid, expect.not.stringMatching(`^${pid}$`)]);
    await assertFinishedExactlyOnce(client, topic, values);
  });

  it('its driver and executors stop by themselves when it is killed by SIGKILL', async () => {
    const topic = uniqueName('run-killed');
    await createTopic(topic, 2);
    const run = sluice(['run', ...jobArgs('examples/audit', topic), '--executors', '1', '--batch-interval-ms', '200']);
    const [, driver] = await run.waitForOutput(/^sluice run: started driver \(pid (\d+)\)$/m);
    const [, executor] = await run.waitForOutput(/^sluice run: started executor-1 \(pid (\d+)\)$/m);
    await run.waitForOutput(/^batch 2: /m);
    run.kill('SIGKILL');
    await run.exit(10_000);
    const pids = [Number(driver), Number(executor)];
    await waitFor(() => pids.every((pid) => !running(pid)) || undefined, {
      timeoutMs: 30_000,
      label: 'the driver and the executor gone',
    }).catch((e: Error) => {
      for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
      throw e;
    });
  });
});
