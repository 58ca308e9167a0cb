import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { createTopic } from '../helpers/kafka';
import { jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { redis } from '../helpers/redis';

jest.setTimeout(60_000);

/** The load job (examples/load) over `topic`, as a user runs it before `sluice load`; resolves once it committed its first batch. */
async function startLoadJob(topic: string): Promise<SluiceProcess> {
  const job = sluice(['run', ...jobArgs('examples/load', topic), '--executors', '2']);
  await job.waitForOutput(/^batch 1: /m, 30_000);
  return job;
}

interface Report {
  run: string;
  produced: number;
  produceErrors: number;
  committed: number;
  duplicates: number;
  missing: number;
  missingIds: string[];
  drained: boolean;
  achievedRate: number;
  throughput: number;
  latencyMs: { samples: number; p50: number; p90: number; p99: number; max: number };
  ok: boolean;
}

describe('sluice load', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('500 records/s for 5 s through a job with 2 executors: every id once, latency percentiles; ids deleted afterwards are reported missing', async () => {
    const topic = uniqueName('load');
    await createTopic(topic, 4);
    const job = await startLoadJob(topic);

    const load = sluice(['load', '--topic', topic, '--job-name', topic, '--rate', '500', '--duration', '5', '--timeout', '20', '--json']);
    await load.succeeds(30_000);
    const report = JSON.parse(load.stdout) as Report;
    expect(report).toMatchObject({ produced: 2500, produceErrors: 0, committed: 2500, duplicates: 0, missing: 0, drained: true, ok: true });
    expect(report.achievedRate).toBeGreaterThan(400);
    expect(report.throughput).toBeGreaterThan(0);
    const { samples, p50, p90, p99, max } = report.latencyMs;
    expect(samples).toBe(2500);
    for (const value of [p50, p90, p99, max]) expect(value).toBeGreaterThan(0);
    expect(p50 <= p90 && p90 <= p99 && p99 <= max).toBe(true);

    // The job's own record, read without the tool: each of the 2,500 ids counted exactly once.
    const idsKey = jobKeys(topic).output(`load:${report.run}:ids`);
    const counts = await client.hgetall(idsKey);
    expect(Object.keys(counts).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 2500 }, (_, i) => String(i)));
    expect(new Set(Object.values(counts))).toEqual(new Set(['1']));

    job.kill('SIGTERM');
    await job.succeeds(20_000);

    // Three ids lost from the output: `--check` names them and fails.
    await client.hdel(idsKey, '0', '1234', '2499');
    const check = sluice(['load', '--check', report.run, '--expected', '2500', '--job-name', topic]);
    expect((await check.exit(20_000)).code).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`^missing +3 ids: ${report.run}:0, ${report.run}:1234, ${report.run}:2499$`, 'm'));
    expect(check.stdout).toMatch(/^committed +2,497 distinct ids of 2,500$/m);
    expect(check.stdout).toMatch(/^duplicates +0$/m);
    expect(check.stdout).toMatch(/^result +FAILED$/m);
  });

  it('a job stopped before it drained: the records it never committed are reported missing, exit 1', async () => {
    const topic = uniqueName('load-stop');
    await createTopic(topic, 2);
    const job = await startLoadJob(topic);

    const load = sluice(['load', '--topic', topic, '--job-name', topic, '--rate', '500', '--duration', '2', '--timeout', '2', '--json']);
    await load.waitForOutput(/producing 1000 records/);
    job.kill('SIGTERM');
    await job.succeeds(20_000);

    expect((await load.exit(30_000)).code).toBe(1);
    const report = JSON.parse(load.stdout) as Report;
    expect(report).toMatchObject({ produced: 1000, produceErrors: 0, duplicates: 0, drained: false, ok: false });
    expect(report.missing).toBeGreaterThan(0);
    expect(report.committed + report.missing).toBe(1000);
    expect(load.stderr).toContain(`job ${topic} did not commit everything within --timeout 2 s`);
  });

  it('refuses to produce when no driver of the job runs', async () => {
    const topic = uniqueName('load-none');
    const load = sluice(['load', '--topic', topic, '--job-name', topic, '--partitions', '1', '--duration', '1']);
    expect((await load.exit(20_000)).code).toBe(1);
    expect(load.stderr).toContain(`sluice: [SLUICE_CONFIG_INVALID] no driver of job '${topic}' is running: start it first`);
  });
});
