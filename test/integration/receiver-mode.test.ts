import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { blockKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { createTopic, endOffsets, groupOffsets, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, history, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(180_000);

interface Receiver {
  id: string;
  state: string;
  executor: string | null;
  blocks: number;
  restarts: number;
  lastError: string | null;
}

/** A redis-server of the test's own on a free loopback port (`extra`: e.g. `--replicaof`), stopped by `stop`. */
async function ownRedis(...extra: string[]): Promise<{ port: number; url: string; client: Redis; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rcv-redis-'));
  const server: ChildProcess = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', ...extra],
    { stdio: 'ignore' }
  );
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await waitFor(() => client.ping().then((r) => r === 'PONG'), { label: `redis-server on ${port}` });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    stop: async () => {
      client.disconnect();
      server.kill('SIGTERM');
      await once(server, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function receivers(httpPort: number): Promise<Receiver[]> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/receivers`);
  return (await res.json()) as Receiver[];
}

/** Every value counted at least once: the values missing (lost) and the extra counts (duplicates). */
async function tally(client: Redis, job: string, values: string[]): Promise<{ missing: number; duplicates: number }> {
  const counts = await auditCounts(client, job);
  let missing = 0;
  let duplicates = 0;
  for (const v of values) {
    const n = counts.get(v) ?? 0;
    if (n === 0) missing++;
    else duplicates += n - 1;
  }
  return { missing, duplicates };
}

const receiverConf = (wal: boolean): string[] => [
  '--source-mode',
  'receiver',
  '--conf',
  `receiver.writeAheadLog=${wal}`,
  '--conf',
  'receiver.blockIntervalMs=100',
  '--conf',
  'receiver.restartDelayMs=500',
  '--conf',
  'driver.heartbeatTimeoutMs=3000',
];

/** `sluice run` of the audit job in receiver mode, with the log, 2 executors. */
function runReceivers(topic: string, httpPort: number, ...extra: string[]): SluiceProcess {
  return sluice([
    'run',
    ...jobArgs('examples/audit', topic),
    ...['--executors', '2', '--batch-interval-ms', '300', '--http-port', String(httpPort)],
    ...receiverConf(true),
    ...extra,
  ]);
}

/** Waits until every value is counted; a timeout names how many were and ends with the job's output. */
async function waitForEveryValue(client: Redis, run: SluiceProcess, topic: string, values: string[], timeoutMs: number): Promise<void> {
  await waitFor(async () => (await auditCounts(client, topic)).size === values.length || undefined, {
    timeoutMs,
    intervalMs: 200,
    label: 'every value counted',
  }).catch(async (e: Error) => {
    const seen = (await auditCounts(client, topic)).size;
    throw new Error(`${e.message}: ${seen} of ${values.length}\n${run.stderr.slice(-2000)}\n${run.stdout.slice(-6000)}`);
  });
}

/** The receivers' own consumer group shows their progress: every partition at its end offset. */
async function waitForGroupAtEnd(topic: string): Promise<void> {
  const ends = await endOffsets(topic);
  await waitFor(
    async () => {
      const group = await groupOffsets(`sluice-${topic}`);
      return Object.entries(ends).every(([tp, end]) => group[tp] === end) ? group : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, label: 'group offsets at the end offsets' }
  );
}

describe('receiver mode (source.mode = receiver)', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('receives every record once, commits the group to the end offsets, and trims the write-ahead log', async () => {
    const topic = uniqueName('rcv');
    await createTopic(topic, 4);
    const values = Array.from({ length: 20_000 }, (_, i) => `v${i}`);
    await produceValues(topic, values, 4);
    const httpPort = await freePort();
    const run = runReceivers(topic, httpPort);
    await waitForEveryValue(client, run, topic, values, 90_000);
    await waitForGroupAtEnd(topic);
    // Processed blocks leave the block log and the write-ahead log.
    const keys = blockKeys(topic);
    await waitFor(async () => ((await client.xlen(keys.wal('receiver-0'))) === 0 && (await client.hlen(keys.blocks)) === 0) || undefined, {
      timeoutMs: 10_000,
      label: 'write-ahead log trimmed',
    });
    expect(await tally(client, topic, values)).toEqual({ missing: 0, duplicates: 0 });
    const batches = await history(client, topic);
    expect(batches.reduce((n, b) => n + b.records, 0)).toBe(values.length);
    expect(batches.every((b) => (b.lostRecords ?? 0) === 0)).toBe(true);
    const [receiver] = await receivers(httpPort);
    expect(receiver).toMatchObject({ id: 'receiver-0', state: 'receiving' });
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/sluice_receiver_state\{receiver="receiver-0",state="receiving"\} 1/);
    expect(metrics).toMatch(/sluice_receiver_log_bytes\{receiver="receiver-0"\} \d+/);
    // The driver's offsets and lag follow the receivers' group (the direct checkpoint is never written here).
    const ends = await endOffsets(topic);
    const api = async <T>(path: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1${path}`)).json()) as T;
    const offsets = await waitFor(
      async () => {
        const rows = await api<Array<{ topic: string; partition: number; committed: string }>>('/offsets');
        return rows.every((r) => r.committed === ends[`${r.topic}:${r.partition}`]) ? rows : undefined;
      },
      { timeoutMs: 10_000, label: '/api/v1/offsets at the end offsets' }
    );
    expect(offsets.length).toBe(4);
    expect(await api<{ total: string }>('/lag')).toMatchObject({ total: '0' });
    run.kill('SIGTERM');
    await run.exit(30_000);
  });

  it('restarts the receiver of a killed executor on the other one; with the log nothing is lost', async () => {
    const topic = uniqueName('rcv-kill');
    await createTopic(topic, 2);
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const common = [...jobArgs('examples/audit', topic), ...receiverConf(true)];
    const driver = sluice([
      'driver',
      ...common,
      '--grpc-port',
      String(grpcPort),
      '--http-port',
      String(httpPort),
      '--batch-interval-ms',
      '300',
      '--min-executors',
      '2',
    ]);
    const executors = new Map<string, SluiceProcess>();
    for (const id of ['executor-a', 'executor-b']) {
      executors.set(id, sluice(['executor', ...common, '--driver', `127.0.0.1:${grpcPort}`, '--id', id, '--slots', '2']));
    }
    const first = Array.from({ length: 5000 }, (_, i) => `a${i}`);
    await produceValues(topic, first, 2);
    const before = await waitFor(
      async () => {
        const [r] = await receivers(httpPort);
        return r?.state === 'receiving' && (await auditCounts(client, topic)).size > 0 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, label: 'a receiving receiver' }
    ).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${driver.stderr.slice(-3000)}`)));
    const victim = executors.get(before.executor as string) as SluiceProcess;
    victim.kill('SIGKILL');
    const second = Array.from({ length: 5000 }, (_, i) => `b${i}`);
    await produceValues(topic, second, 2);
    const after = await waitFor(
      async () => {
        const [r] = await receivers(httpPort);
        return r?.state === 'receiving' && r.executor !== before.executor ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, label: 'the receiver restarted on the other executor' }
    );
    expect(after.restarts).toBeGreaterThanOrEqual(1);
    const all = [...first, ...second];
    await waitFor(async () => (await tally(client, topic, all)).missing === 0 || undefined, {
      timeoutMs: 60_000,
      intervalMs: 200,
      label: 'every value counted',
    });
    // At-least-once: duplicates are possible (blocks logged but not committed to the group), losses are not.
    const { duplicates } = await tally(client, topic, all);
    process.stdout.write(`receiver restart with the log: 0 lost, ${duplicates} duplicated\n`);
    const batches = await history(client, topic);
    expect(batches.every((b) => (b.lostRecords ?? 0) === 0)).toBe(true);
    driver.kill('SIGTERM');
    await driver.exit(30_000);
  });

  it('two receivers (receiver.count = 2) share the partitions through their group; nothing is lost', async () => {
    const topic = uniqueName('rcv-two');
    await createTopic(topic, 4);
    const httpPort = await freePort();
    const run = runReceivers(topic, httpPort, '--conf', 'receiver.count=2');
    // Produced once both are receiving, so the group has split the 4 partitions between them.
    await waitFor(
      async () => {
        const all = await receivers(httpPort).catch(() => []);
        return all.length === 2 && all.every((r) => r.state === 'receiving') ? all : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, label: 'two receiving receivers' }
    );
    const values = Array.from({ length: 8000 }, (_, i) => `w${i}`);
    await produceValues(topic, values, 4);
    await waitForEveryValue(client, run, topic, values, 60_000);
    await waitForGroupAtEnd(topic);
    // Rebalances may hand a partition over and replay it: at-least-once, so only losses fail here.
    expect((await tally(client, topic, values)).missing).toBe(0);
    const all = await receivers(httpPort);
    expect(all.map((r) => r.id).sort()).toEqual(['receiver-0', 'receiver-1']);
    expect(all.every((r) => r.blocks > 0)).toBe(true);
    const keys = blockKeys(topic);
    await waitFor(
      async () =>
        ((await client.xlen(keys.wal('receiver-0'))) === 0 &&
          (await client.xlen(keys.wal('receiver-1'))) === 0 &&
          (await client.hlen(keys.blocks)) === 0) ||
        undefined,
      { timeoutMs: 10_000, label: 'both write-ahead logs and the block log trimmed' }
    );
    run.kill('SIGTERM');
    await run.exit(30_000);
  });

  it('receiver.walReplicas: without a replica no block is acknowledged (the receiver fails, coded); with one, every record once', async () => {
    const primary = await ownRedis();
    let replica: Awaited<ReturnType<typeof ownRedis>> | undefined;
    try {
      const topic = uniqueName('rcv-replicas');
      await createTopic(topic, 2);
      const values = Array.from({ length: 3000 }, (_, i) => `x${i}`);
      await produceValues(topic, values, 2);
      const httpPort = await freePort();
      const run = runReceivers(
        topic,
        httpPort,
        ...['--redis-url', primary.url, '--conf', 'receiver.walReplicas=1', '--conf', 'receiver.walReplicaTimeoutMs=300']
      );
      const failed = await waitFor(
        async () => (await receivers(httpPort).catch(() => [])).find((r) => r.lastError?.includes('reached 0 of 1 replicas')),
        { timeoutMs: 60_000, intervalMs: 200, label: 'the receiver failing for want of a replica' }
      );
      expect(failed.lastError).toMatch(
        /\[SLUICE_REDIS_UNAVAILABLE\] write-ahead log of receiver-0: block \S+ reached 0 of 1 replicas within 300 ms \(receiver\.walReplicas\)/
      );
      // Not acknowledged, so neither recorded nor committed to the group: nothing processed, nothing lost.
      expect((await auditCounts(primary.client, topic)).size).toBe(0);
      replica = await ownRedis('--replicaof', '127.0.0.1', String(primary.port));
      await waitForEveryValue(primary.client, run, topic, values, 90_000);
      await waitForGroupAtEnd(topic);
      expect(await tally(primary.client, topic, values)).toEqual({ missing: 0, duplicates: 0 });
      run.kill('SIGTERM');
      await run.exit(30_000);
    } finally {
      await replica?.stop();
      await primary.stop();
    }
  });
});
