import { jobKeys } from '@sluice/common';
import { uniqueName } from '../helpers/env';
import { CLUSTER_BROKERS, clusterKafka, OwnRedis, restartBroker, signal, startCluster } from '../helpers/cluster';
import { batchPhase, compareWithTopic, ContinuousProducer, smallChunks, topicValueCounts, type BatchPhase } from '../helpers/fault';
import { assertContiguous } from '../helpers/invariants';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, checkpoint, history } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

/**
 * Chaos: records produced continuously while a seeded schedule kills (SIGKILL) and pauses
 * (SIGSTOP/SIGCONT) drivers (a leader and a standby, restarted after death) and executors
 * (restarted after death), each at a chosen phase of a batch, restarts a Kafka broker of the 3-node
 * cluster and Redis (AOF, fsync always). Then heal, drain, and check: every record of the topic
 * counted exactly once, checkpoint = end offsets, ranges contiguous. SLUICE_CHAOS_SEED replays a
 * schedule; the seed is printed first, the summary last.
 */
jest.setTimeout(420_000);

const PARTITIONS = 4;
const FAULTS = Number(process.env.SLUICE_CHAOS_FAULTS ?? 14);
const KINDS = ['driver-kill', 'driver-pause', 'executor-kill', 'executor-pause', 'broker-restart', 'redis-restart'] as const;
type Kind = (typeof KINDS)[number];
const PHASES: BatchPhase[] = ['idle', 'dispatched', 'mid-task', 'tasks-done'];

/** mulberry32: a small seeded PRNG, so a seed always gives the same schedule. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Fault {
  kind: Kind;
  phase: BatchPhase;
  /** Which executor (0/1) or broker (1..3) it hits; drivers are always the current leader. */
  target: number;
}

/** The schedule: every kind at least twice (in seeded order), the rest random; phases at random. */
function schedule(seed: number, count: number): Fault[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const kinds: Kind[] = [...KINDS, ...KINDS];
  while (kinds.length < count) kinds.push(pick(KINDS));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as Kind, kinds[i] as Kind];
  }
  return kinds.slice(0, Math.max(count, KINDS.length)).map((kind) => ({
    kind,
    // Between the last task commit and the batch commit is reached by pausing the leader: for drivers only.
    phase: pick(kind.startsWith('driver') ? PHASES : PHASES.slice(0, 3)),
    target: kind === 'broker-restart' ? 1 + Math.floor(random() * 3) : Math.floor(random() * 2),
  }));
}

describe('chaos', () => {
  afterEach(killAll);

  it('exactly once under a seeded schedule of process kills and pauses at every batch phase, a broker restart and a Redis restart', async () => {
    const seed = process.env.SLUICE_CHAOS_SEED ? Number(process.env.SLUICE_CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
    process.stdout.write(`chaos seed: ${seed}\n`);
    const faults = schedule(seed, FAULTS);

    await startCluster();
    const redisServer = await OwnRedis.start();
    const client = redisServer.client();
    const counted: Record<Kind, number> = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
    const log: string[] = [];
    let producer: ContinuousProducer | undefined;
    try {
      const topic = uniqueName('chaos');
      const admin = clusterKafka().admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      producer = new ContinuousProducer(CLUSTER_BROKERS, topic, PARTITIONS, 'chaos', 20, 50);
      producer.start();

      const env = { KAFKA_BROKERS: CLUSTER_BROKERS, REDIS_URL: redisServer.url, SLUICE_KAFKA_REQUEST_TIMEOUT_MS: '5000' };
      const job = [
        ...jobArgs('test/jobs/slow-audit.js', topic),
        '--batch-interval-ms',
        '500',
        '--max-rate-per-partition',
        '400',
        '--starting-offsets',
        'earliest',
      ];
      const ports = [String(await freePort()), String(await freePort())];
      const driverEnv = { ...env, SLUICE_DRIVER_LEASE_TTL_MS: '2000', SLUICE_DRIVER_HEARTBEAT_TIMEOUT_MS: '4000' };
      const executorEnv = { ...env, SLOW_MS_PER_RECORD: '2', ...smallChunks(50) };
      const drivers: SluiceProcess[] = [];
      const executors: SluiceProcess[] = [];
      // Every driver is a standby: the first to find no lease leads, a restarted one waits.
      const startDriver = (i: number): void => {
        drivers[i] = sluice(['driver', ...job, '--grpc-port', ports[i] as string, '--standby'], driverEnv);
      };
      const startExecutor = (i: number): void => {
        const list = ports.map((p) => `127.0.0.1:${p}`).join(',');
        executors[i] = sluice(['executor', ...job, '--driver', list, '--id', `e${i}`], executorEnv);
      };
      /** A failed wait, with the faults so far and the drivers' last output. */
      const explained = (e: Error): never => {
        throw new Error(`${e.message}\n${log.join('\n')}\n${drivers.map((d) => d.stderr.slice(-2000)).join('\n---\n')}`);
      };
      const exited = (p: SluiceProcess | undefined): boolean => !p || p.child.exitCode !== null || p.child.signalCode !== null;
      /** Restarts whatever died (a paused process is resumed first). */
      const heal = (): void => {
        for (const p of [...drivers, ...executors]) if (p && !exited(p)) signal(p.pid, 'SIGCONT');
        [0, 1].forEach((i) => exited(drivers[i]) && startDriver(i));
        [0, 1].forEach((i) => exited(executors[i]) && startExecutor(i));
      };
      /** The driver process holding the lease (its id is <host>-<pid>-<random>). */
      const leader = async (): Promise<SluiceProcess> =>
        waitFor(
          async () => {
            const owner = await client.get(jobKeys(topic).leader);
            const pid = owner ? Number(/-(\d+)-[0-9a-f]+$/.exec(owner)?.[1]) : NaN;
            return drivers.find((d) => d.pid === pid && !exited(d));
          },
          { timeoutMs: 30_000, intervalMs: 50, label: 'a leading driver' }
        );
      const committedBatches = async (): Promise<number> => Number((await client.get(jobKeys(topic).committed)) ?? 0);
      const phaseReached = async (phase: BatchPhase): Promise<boolean> =>
        waitFor(async () => ((await batchPhase(client, topic)).phase === phase ? true : undefined), {
          timeoutMs: 15_000,
          intervalMs: 5,
          label: `phase ${phase}`,
        }).then(
          () => true,
          () => false
        );

      heal();
      await waitFor(async () => (await committedBatches()) >= 2 || undefined, { timeoutMs: 60_000, label: 'first batches' });

      for (const [n, fault] of faults.entries()) {
        heal();
        const lead = await leader();
        // The other driver stands by before a driver fault, so that there is someone to take over.
        if (fault.kind.startsWith('driver')) {
          const other = drivers.find((d) => d !== lead) as SluiceProcess;
          await other.waitForOutput(/standing by/, 30_000);
        }
        const atPhase =
          fault.phase === 'tasks-done'
            ? // Freeze the leader mid-task; the executors finish and commit every range, the batch stays uncommitted.
              (await phaseReached('mid-task')) && (signal(lead.pid, 'SIGSTOP'), await phaseReached('tasks-done'))
            : await phaseReached(fault.phase);
        const before = await committedBatches();
        switch (fault.kind) {
          case 'driver-kill':
            signal(lead.pid, 'SIGKILL');
            await lead.exit(10_000);
            break;
          case 'driver-pause': {
            signal(lead.pid, 'SIGSTOP');
            // Resume it only after the standby took over: it must find itself fenced.
            await waitFor(async () => ((await leader()) !== lead ? true : undefined), { timeoutMs: 30_000, label: 'takeover' }).catch(
              explained
            );
            signal(lead.pid, 'SIGCONT');
            const { code } = await lead.exit(30_000);
            expect(code).not.toBe(0);
            break;
          }
          case 'executor-kill':
            signal(lead.pid, 'SIGCONT');
            signal((executors[fault.target] as SluiceProcess).pid, 'SIGKILL');
            break;
          case 'executor-pause': {
            signal(lead.pid, 'SIGCONT');
            const victim = executors[fault.target] as SluiceProcess;
            signal(victim.pid, 'SIGSTOP');
            // Paused until a batch commits without it (or the batch waits on it for 3 s at most).
            await waitFor(async () => (await committedBatches()) > before || undefined, { timeoutMs: 3000, label: 'pause' }).catch(
              () => undefined
            );
            signal(victim.pid, 'SIGCONT');
            break;
          }
          case 'broker-restart':
            signal(lead.pid, 'SIGCONT');
            await restartBroker(fault.target);
            break;
          case 'redis-restart':
            signal(lead.pid, 'SIGCONT');
            await redisServer.kill();
            await redisServer.start();
            break;
        }
        counted[fault.kind]++;
        log.push(`fault ${n + 1}/${faults.length}: ${fault.kind} at ${fault.phase}${atPhase ? '' : ' (phase not reached in 15 s)'}`);
        process.stdout.write(`chaos: ${log[log.length - 1] as string}\n`);
        heal();
        // Progress before the next fault (Kafka's system tests bounce only after progress).
        await waitFor(async () => (await committedBatches()) > before || undefined, {
          timeoutMs: 60_000,
          intervalMs: 50,
          label: `progress after ${fault.kind}`,
        }).catch(explained);
      }

      heal();
      await producer.stop();
      producer = undefined;
      const admin2 = clusterKafka().admin();
      await admin2.connect();
      const ends = Object.fromEntries((await admin2.fetchTopicOffsets(topic)).map((o) => [`${topic}:${o.partition}`, o.offset]));
      await admin2.disconnect();
      await waitFor(
        async () => {
          const offsets = await checkpoint(client, topic);
          const idle = (await batchPhase(client, topic)).phase === 'idle';
          return idle && Object.entries(ends).every(([key, end]) => offsets[key] === end) ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200, label: 'drained: checkpoint at the end offsets' }
      );
      const counts = await auditCounts(client, topic);
      const inTopic = await topicValueCounts(CLUSTER_BROKERS, topic);
      const result = compareWithTopic(counts, inTopic);
      const records = [...inTopic.values()].reduce((a, b) => a + b, 0);
      process.stdout.write(
        `chaos summary: seed=${seed} records=${records} faults={${KINDS.map((k) => `${k}:${counted[k]}`).join(', ')}} ` +
          `duplicates=${result.duplicates} lost=${result.lost}\n`
      );
      expect(result).toEqual({ duplicates: 0, lost: 0 });
      expect(await checkpoint(client, topic)).toEqual(ends);
      const reached = assertContiguous(await history(client, topic), Object.fromEntries(Object.keys(ends).map((k) => [k, '0'])));
      expect(reached).toEqual(ends);
      for (const d of drivers) if (!exited(d)) d.kill('SIGTERM');
      for (const e of executors) if (!exited(e)) e.kill('SIGTERM');
    } finally {
      // A failed run must not leave the producer running: Jest would wait for it forever.
      await producer?.stop().catch(() => undefined);
      client.disconnect();
      await killAll();
      await redisServer.destroy();
    }
  });
});
