import type Redis from 'ioredis';
import { blockKeys, jobKeys } from '@sluice/common';
import { schedule, chaosSeed, type Fault } from '../helpers/chaos';
import { OwnRedis } from '../helpers/cluster';
import { uniqueName, brokers } from '../helpers/env';
import { batchPhase, ContinuousProducer, topicValueCounts, type BatchPhase } from '../helpers/fault';
import { committedOffsets, createTopic, endOffsets, groupOffsets, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, history, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

/**
 * The two approaches under the same seeded fault schedule (test/helpers/chaos.ts) on the audit job,
 * records produced throughout: the direct approach (0 lost, 0 duplicated), receiver mode with the
 * write-ahead log (0 lost, duplicates counted) and without it (losses counted, and each one
 * reported as SLUICE_BLOCK_LOST in the batch history). Then the deterministic fault point between
 * the log write and the offset commit, which must duplicate, and its counterpart without the log:
 * an executor killed while its recorded blocks wait for their batch, which must lose them, each
 * record counted lost. With the log, receiver mode rides out a Redis restart without a loss.
 * One summary line per mode.
 * SLUICE_CHAOS_SEED replays a schedule.
 */
jest.setTimeout(240_000);

const PARTITIONS = 2;
const FAULTS = Number(process.env.SOURCE_MODES_FAULTS ?? 3);
const KINDS = ['executor-kill', 'driver-kill'] as const;
type Kind = (typeof KINDS)[number];
type Mode = 'direct' | 'receiver+log' | 'receiver';

interface Outcome {
  mode: Mode;
  values: number;
  lost: number;
  duplicated: number;
  /** Records the job itself counted lost (batch history: lostRecords). */
  countedLost: number;
}

const modeFlags = (mode: Mode): string[] =>
  mode === 'direct'
    ? ['--starting-offsets', 'earliest']
    : [
        '--source-mode',
        'receiver',
        '--conf',
        `receiver.writeAheadLog=${mode === 'receiver+log'}`,
        '--conf',
        'receiver.blockIntervalMs=100',
        '--conf',
        'receiver.restartDelayMs=200',
      ];

const env = { SLUICE_DRIVER_LEASE_TTL_MS: '1500', SLUICE_DRIVER_HEARTBEAT_TIMEOUT_MS: '2000' };

async function receiverExecutor(httpPort: number): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/receivers`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  const list = res ? ((await res.json()) as Array<{ executor: string | null; state: string }>) : [];
  return list[0]?.state === 'receiving' ? (list[0].executor ?? undefined) : undefined;
}

/** Records the job committed so far (its running totals): progress is records, not (possibly empty) batches. */
async function committed(client: Redis, job: string): Promise<number> {
  return Number((await client.hget(jobKeys(job).totals, 'records')) ?? 0);
}

/** Waits until the job's own progress is at the end offsets (the group in receiver mode, the checkpoint in direct mode), nothing in flight. */
async function drained(client: Redis, topic: string, mode: Mode, driver: SluiceProcess): Promise<void> {
  const ends = await endOffsets(topic);
  const keys = blockKeys(topic);
  await waitFor(
    async () => {
      const progressAt = mode === 'direct' ? await client.hgetall(jobKeys(topic).offsets) : await groupOffsets(`sluice-${topic}`);
      if (!Object.entries(ends).every(([tp, end]) => progressAt[tp] === end)) return undefined;
      if (mode === 'direct') return (await client.exists(jobKeys(topic).planned)) === 0 || undefined;
      const pending = (await client.hlen(keys.blocks)) + (await client.llen(keys.unallocated)) + (await client.exists(keys.planned));
      return pending === 0 || undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, label: `${mode}: drained` }
  ).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${driver.stderr.slice(-3000)}`)));
}

/**
 * Waits (at most 10 s) for the fault's phase of a batch: in the direct approach as the chaos test
 * reads it; in receiver mode `idle` is "blocks recorded, not yet allocated" (the window in which a
 * receiver's executor takes unlogged blocks with it) and the others "a batch of blocks allocated,
 * not committed".
 */
async function phaseReached(client: Redis, topic: string, mode: Mode, phase: BatchPhase): Promise<boolean> {
  const keys = blockKeys(topic);
  const reached = async (): Promise<boolean> =>
    mode === 'direct'
      ? (await batchPhase(client, topic)).phase === phase
      : phase === 'idle'
        ? (await client.llen(keys.unallocated)) > 0
        : (await client.exists(keys.planned)) === 1;
  return waitFor(async () => (await reached()) || undefined, { timeoutMs: 10_000, intervalMs: 5, label: phase }).then(
    () => true,
    () => false
  );
}

/** Starters of the job's driver (on fixed ports, so a restarted one is found again) and executors `e<i>`. */
function jobProcesses(
  job: string[],
  ports: { grpc: number; http: number },
  processEnv: NodeJS.ProcessEnv
): { startDriver: () => SluiceProcess; startExecutor: (i: number) => SluiceProcess } {
  return {
    startDriver: () =>
      sluice(['driver', ...job, '--grpc-port', String(ports.grpc), '--http-port', String(ports.http), '--min-executors', '2'], processEnv),
    startExecutor: (i) => sluice(['executor', ...job, '--driver', `127.0.0.1:${ports.grpc}`, '--id', `e${i}`], processEnv),
  };
}

/** Waits until the job committed more than `after` records; returns how many. A timeout ends with the driver's output. */
async function progressed(
  client: Redis,
  topic: string,
  after: number,
  wait: { label: string; timeoutMs: number; driver: SluiceProcess }
): Promise<number> {
  return waitFor(async () => ((await committed(client, topic)) > after ? committed(client, topic) : undefined), {
    timeoutMs: wait.timeoutMs,
    intervalMs: 50,
    label: wait.label,
  }).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${wait.driver.stderr.slice(-3000)}`)));
}

/** Every value written to the topic against the job's counts: lost, duplicated, and the losses the job counted itself. */
async function outcomeOf(client: Redis, topic: string, mode: Mode): Promise<Outcome> {
  const written = await topicValueCounts(brokers(), topic);
  const counts = await auditCounts(client, topic);
  let lost = 0;
  let duplicated = 0;
  for (const value of written.keys()) {
    const n = counts.get(value) ?? 0;
    if (n === 0) lost++;
    else duplicated += n - 1;
  }
  const countedLost = (await history(client, topic)).reduce((n, b) => n + (b.lostRecords ?? 0), 0);
  return { mode, values: written.size, lost, duplicated, countedLost };
}

async function runMode(client: Redis, mode: Mode, faults: Array<Fault<Kind>>): Promise<Outcome> {
  const topic = uniqueName(`modes-${mode.replace('+', '-')}`);
  await createTopic(topic, PARTITIONS);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const job = [...jobArgs('examples/audit', topic), '--batch-interval-ms', '300', ...modeFlags(mode)];
  const { startDriver, startExecutor } = jobProcesses(job, { grpc: grpcPort, http: httpPort }, env);
  let driver = startDriver();
  const executors = [startExecutor(0), startExecutor(1)];
  const producer = new ContinuousProducer(brokers(), topic, PARTITIONS, mode, 20, 50);
  producer.start();
  const exited = (p: SluiceProcess): boolean => p.child.exitCode !== null || p.child.signalCode !== null;
  const progress = (after: number, label: string): Promise<number> =>
    progressed(client, topic, after, { label: `${mode}: ${label}`, timeoutMs: 40_000, driver });
  try {
    let at = await progress(0, 'first records');
    for (const fault of faults) {
      const atPhase = await phaseReached(client, topic, mode, fault.phase);
      process.stdout.write(`${mode}: ${fault.kind}#${fault.target} at ${fault.phase}${atPhase ? '' : ' (phase not reached in 10 s)'}\n`);
      if (fault.kind === 'driver-kill') {
        driver.kill('SIGKILL');
        await driver.exit(10_000);
        driver = startDriver();
      } else {
        // Target 0 is the executor running the receiver (receiver mode), target 1 the other one.
        const holder =
          mode === 'direct' ? undefined : await waitFor(() => receiverExecutor(httpPort), { timeoutMs: 30_000, label: 'receiver' });
        const index = holder === undefined ? fault.target : holder === 'e0' ? fault.target : 1 - fault.target;
        const victim = executors[index] as SluiceProcess;
        victim.kill('SIGKILL');
        await victim.exit(10_000);
        executors[index] = startExecutor(index);
      }
      at = await progress(at, `progress after ${fault.kind}`);
    }
    await producer.stop();
    for (const [i, e] of executors.entries()) if (exited(e)) executors[i] = startExecutor(i);
    await drained(client, topic, mode, driver).catch((e: Error) => {
      if (process.env.SOURCE_MODES_DEBUG) for (const e2 of executors) process.stdout.write(`--- executor\n${e2.stderr.slice(-8000)}\n`);
      throw e;
    });
    if (process.env.SOURCE_MODES_DEBUG) process.stdout.write(driver.stderr.slice(-6000));
    return await outcomeOf(client, topic, mode);
  } finally {
    await producer.stop();
  }
}

describe('source modes under faults', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('direct: 0 lost, 0 duplicated; receiver with the log: 0 lost, duplicates counted; without it: losses counted', async () => {
    const seed = chaosSeed();
    const faults = schedule(seed, FAULTS, KINDS);
    process.stdout.write(`source modes seed ${seed}: ${faults.map((f) => `${f.kind}#${f.target} at ${f.phase}`).join(', ')}\n`);
    const outcomes: Outcome[] = [];
    for (const mode of ['direct', 'receiver+log', 'receiver'] as const) {
      if (process.env.SOURCE_MODES_ONLY && !process.env.SOURCE_MODES_ONLY.split(',').includes(mode)) continue;
      await killAll();
      const outcome = await runMode(client, mode, faults);
      outcomes.push(outcome);
      process.stdout.write(
        `mode ${mode}: ${outcome.values} values, ${outcome.lost} lost (${outcome.countedLost} counted by the job), ${outcome.duplicated} duplicated\n`
      );
    }
    const of = (mode: Mode): Outcome | undefined => outcomes.find((o) => o.mode === mode);
    expect(of('direct') ?? { lost: 0, duplicated: 0, countedLost: 0 }).toMatchObject({ lost: 0, duplicated: 0, countedLost: 0 });
    expect(of('receiver+log') ?? { lost: 0, countedLost: 0 }).toMatchObject({ lost: 0, countedLost: 0 });
    // Without the log every loss is one the job counted (blocks marked lost); it may count blocks
    // whose records a rebalance delivered again, never fewer than are missing.
    const withoutLog = of('receiver');
    if (withoutLog) expect(withoutLog.lost).toBeLessThanOrEqual(withoutLog.countedLost);
  });

  it('a receiver crashing between the log write and the offset commit duplicates that block, and loses nothing', async () => {
    const topic = uniqueName('modes-after-log');
    await createTopic(topic, PARTITIONS);
    const values = Array.from({ length: 3000 }, (_, i) => `d${i}`);
    await produceValues(topic, values, PARTITIONS);
    const grpcPort = await freePort();
    const job = [...jobArgs('examples/audit', topic), '--batch-interval-ms', '300', ...modeFlags('receiver+log')];
    const driver = sluice(['driver', ...job, '--grpc-port', String(grpcPort), '--http-port', '0'], env);
    const executor = (id: string, extra: NodeJS.ProcessEnv = {}): SluiceProcess =>
      sluice(['executor', ...job, '--driver', `127.0.0.1:${grpcPort}`, '--id', id], { ...env, ...extra });
    // The only executor at first, so the receiver runs there: it dies after its first block is logged and recorded.
    const crashing = executor('crashing', { SLUICE_FAULT_RECEIVER_CRASH: 'after-log' });
    const { signal } = await crashing.exit(60_000);
    expect(signal).toBe('SIGKILL');
    executor('healthy');
    await drained(client, topic, 'receiver+log', driver);
    const counts = await auditCounts(client, topic);
    expect(values.filter((v) => (counts.get(v) ?? 0) === 0)).toEqual([]);
    const duplicated = values.reduce((n, v) => n + Math.max(0, (counts.get(v) ?? 0) - 1), 0);
    process.stdout.write(`mode receiver+log, crash after the log write: ${values.length} values, 0 lost, ${duplicated} duplicated\n`);
    expect(duplicated).toBeGreaterThan(0);
    // The block the driver recorded before the crash was processed from the log (no loss counted).
    expect((await history(client, topic)).every((b) => (b.lostRecords ?? 0) === 0)).toBe(true);
  });
  it('without the log, the blocks waiting for their batch die with their executor, and the job counts each record lost', async () => {
    const topic = uniqueName('modes-lost');
    await createTopic(topic, PARTITIONS);
    const values = Array.from({ length: 3000 }, (_, i) => `l${i}`);
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    // A long batch interval: blocks are recorded (their offsets committed) long before their batch runs.
    const job = [...jobArgs('examples/audit', topic), '--batch-interval-ms', '4000', ...modeFlags('receiver')];
    const driver = sluice(
      ['driver', ...job, '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--min-executors', '2'],
      env
    );
    const executors = new Map(
      ['e0', 'e1'].map((id) => [id, sluice(['executor', ...job, '--driver', `127.0.0.1:${grpcPort}`, '--id', id], env)] as const)
    );
    const holder = await waitFor(() => receiverExecutor(httpPort), { timeoutMs: 30_000, label: 'a receiving receiver' });
    await produceValues(topic, values, PARTITIONS);
    // Killed once every block is recorded and its offsets are in the group: nothing delivers those
    // records again, so the blocks in the executor's memory are all there was of them.
    const ends = await endOffsets(topic);
    await waitFor(
      async () => {
        const committed = await committedOffsets(`sluice-${topic}`, topic);
        return Object.entries(ends).every(([tp, end]) => committed[tp] === end) || undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20, label: "the blocks' offsets committed to the group" }
    );
    (executors.get(holder) as SluiceProcess).kill('SIGKILL');
    await drained(client, topic, 'receiver', driver);
    const counts = await auditCounts(client, topic);
    const lost = values.filter((v) => !counts.has(v)).length;
    const countedLost = (await history(client, topic)).reduce((n, b) => n + (b.lostRecords ?? 0), 0);
    process.stdout.write(
      `mode receiver, executor killed with recorded blocks: ${values.length} values, ${lost} lost (${countedLost} counted by the job)\n`
    );
    expect(lost).toBeGreaterThan(0);
    expect(countedLost).toBe(lost);
  });

  it('with the log, receiver mode rides out a Redis restart (SIGKILL, AOF fsynced): 0 lost, duplicates counted', async () => {
    const own = await OwnRedis.start();
    const ownClient = own.client();
    const producer = { stop: (): Promise<void> => Promise.resolve() };
    try {
      const topic = uniqueName('modes-redis-restart');
      await createTopic(topic, PARTITIONS);
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const job = [...jobArgs('examples/audit', topic), '--batch-interval-ms', '300', '--redis-url', own.url, ...modeFlags('receiver+log')];
      const { startDriver, startExecutor } = jobProcesses(job, { grpc: grpcPort, http: httpPort }, env);
      const driver = startDriver();
      [0, 1].forEach(startExecutor);
      const continuous = new ContinuousProducer(brokers(), topic, PARTITIONS, 'redis-restart', 20, 50);
      producer.stop = () => continuous.stop();
      continuous.start();
      const progress = (after: number, label: string): Promise<number> =>
        progressed(ownClient, topic, after, { label, timeoutMs: 60_000, driver });
      const before = await progress(0, 'first records');
      await own.kill();
      // The driver notices (not ready) before Redis is back.
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 503 || undefined,
        { timeoutMs: 20_000, label: 'driver not ready while Redis is down' }
      );
      await own.start();
      await progress(before, 'progress after the restart');
      await continuous.stop();
      await drained(ownClient, topic, 'receiver+log', driver);
      const { values, lost, duplicated, countedLost } = await outcomeOf(ownClient, topic, 'receiver+log');
      process.stdout.write(`mode receiver+log, Redis restarted: ${values} values, ${lost} lost, ${duplicated} duplicated\n`);
      expect({ lost, countedLost }).toEqual({ lost: 0, countedLost: 0 });
    } finally {
      await producer.stop();
      await killAll();
      ownClient.disconnect();
      await own.destroy();
    }
  });
});
