import type Redis from 'ioredis';
import { jobKeys, type BatchSummary } from '@sluice/common';
import { brokers, uniqueName } from '../helpers/env';
import {
  assertExactlyOnceAllowingUncertain,
  ContinuousProducer,
  logLines,
  produceInBatches,
  smallChunks,
  waitForPhase,
} from '../helpers/fault';
import { assertExactlyOnce, assertRangesCoverFromZero } from '../helpers/invariants';
import { createTopic, endOffsets } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, history, redis, waitForCheckpoint } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

const PARTITIONS = 4;
const PER_PARTITION = 800;
/** Kills of the leader over which failover is measured. */
const KILLS = 5;

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

  it('SIGKILL of the leader mid-task, five times: each standby takes over within the failover target, replays the planned batch, executors follow it; exactly-once', async () => {
    const topic = uniqueName('ha-kill');
    await createTopic(topic, PARTITIONS);
    // 20 records/s per partition: 10 per 500 ms batch, 10 ms each in chunks of 5, a task runs ~100 ms;
    // after a failover at most 50 per batch (the backlog is not what is measured).
    const producer = new ContinuousProducer(brokers(), topic, PARTITIONS, 'ha-kill', 8);
    const job = [...jobArgs('test/jobs/slow-audit.js', topic), '--batch-interval-ms', '500', '--max-rate-per-partition', '100'];
    const ports = [String(await freePort()), String(await freePort())];
    // Default lease and heartbeat settings: what is measured is what a user gets.
    const driver = (i: number, standby: boolean): SluiceProcess =>
      sluice(['driver', ...job, '--grpc-port', ports[i] as string, ...(standby ? ['--standby'] : [])], { LOG_LEVEL: 'info' });
    const drivers = [driver(0, false)];
    await (drivers[0] as SluiceProcess).waitForOutput(/"msg":"driver started"/);
    drivers.push(driver(1, true));
    await (drivers[1] as SluiceProcess).waitForOutput(/standing by/);
    const driverList = ports.map((p) => `127.0.0.1:${p}`).join(',');
    const executors = ['e1', 'e2'].map((id) =>
      sluice(['executor', ...job, '--driver', driverList, '--id', id], { SLOW_MS_PER_RECORD: '10', LOG_LEVEL: 'info', ...smallChunks(5) })
    );

    const failovers: number[] = [];
    /** Where each failover's time went: until the standby led, until an executor registered with it, until the batch committed. */
    const phases: string[] = [];
    let leader = 0;
    producer.start();
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const killed = drivers[leader] as SluiceProcess;
        const successor = drivers[1 - leader] as SluiceProcess;
        const { planId, epoch } = await waitForPhase(client, topic, 'mid-task');
        killed.kill('SIGKILL');
        const killedAt = Date.now();
        // Until the first batch committed under a newer epoch: the replay of the batch the leader was running.
        const first = await waitFor(
          async () => {
            const [newest] = await client.xrevrange(jobKeys(topic).batches, '+', '-', 'COUNT', 1);
            const fields = newest?.[1] ?? [];
            const summary = fields.length > 0 && (JSON.parse(fields[fields.indexOf('summary') + 1] as string) as BatchSummary);
            return summary && BigInt(summary.epoch) > BigInt(epoch ?? 0) ? summary : undefined;
          },
          {
            timeoutMs: 60_000,
            intervalMs: 10,
            label: `a batch committed by the standby after kill ${kill + 1} (failovers before: ${failovers.join(', ')} ms)`,
          }
        );
        const committedAt = Date.now();
        failovers.push(committedAt - killedAt);
        const ledAt = logTime(successor, 'driver started: leading (took over the lease)');
        // The first executor to register: the driver starts with driver.minExecutors (1).
        const registeredAt = Math.min(...executors.flatMap((e) => logTimes(e, 'registered with the driver', ledAt)));
        phases.push(`lease ${ledAt - killedAt} + executors ${registeredAt - ledAt} + batch ${committedAt - registeredAt}`);
        expect(first.id).toBe(planId);
        expect(logLines(successor, 'replaying a planned but uncommitted batch')).toEqual([
          expect.objectContaining({ batch: planId, plannedEpoch: epoch }),
        ]);
        // The killed driver comes back (as Kubernetes restarts a container) as the next standby.
        drivers[leader] = driver(leader, true);
        await (drivers[leader] as SluiceProcess).waitForOutput(/standing by/);
        leader = 1 - leader;
      }
    } finally {
      await producer.stop();
    }
    const sorted = [...failovers].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    const max = sorted[sorted.length - 1] as number;
    const each = failovers.map((ms, i) => `${ms} = ${phases[i]}`).join(', ');
    process.stdout.write(`failover: kills=${KILLS} median=${median} ms max=${max} ms (each: ${each} ms)\n`);

    const ends = await endOffsets(topic);
    await waitForCheckpoint(client, topic, ends, { processes: drivers });
    assertExactlyOnceAllowingUncertain(await auditCounts(client, topic), producer.acked, producer.uncertain);
    assertRangesCoverFromZero(await history(client, topic), ends);
    // The executors never restarted: the same processes served every driver.
    expect(executors.map((e) => e.child.exitCode)).toEqual([null, null]);
    expect(median).toBeLessThanOrEqual(5000);
    expect(max).toBeLessThanOrEqual(7000);
  }, 240_000);

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

/** When `proc` logged `msg` (its JSON logs' times, ms), at or after `since`. */
function logTimes(proc: SluiceProcess, msg: string, since = 0): number[] {
  return logLines(proc, msg)
    .map((line) => line.time as number)
    .filter((time) => time >= since);
}

/** When `proc` first logged `msg`. */
function logTime(proc: SluiceProcess, msg: string): number {
  const [first] = logTimes(proc, msg);
  if (first === undefined) throw new Error(`'${msg}' not logged:\n${proc.stderr.slice(-3000)}`);
  return first;
}

/** Per partition, where the committed ranges end. */
function committedEnds(batches: Awaited<ReturnType<typeof history>>): Record<string, string> {
  const ends: Record<string, string> = {};
  for (const r of batches.flatMap((b) => b.ranges)) ends[`${r.topic}:${r.partition}`] = r.until;
  return ends;
}
