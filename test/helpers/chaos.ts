import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { clusterKafka, signal } from './cluster';
import { batchPhase, smallChunks, type BatchPhase } from './fault';
import { checkpoint } from './redis';
import { freePort, sluice, type SluiceProcess } from './processes';
import { waitFor } from './wait-for';

/** mulberry32: a small seeded PRNG, so a seed always gives the same schedule. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PHASES: BatchPhase[] = ['idle', 'dispatched', 'mid-task', 'tasks-done'];

export interface Fault<Kind extends string> {
  kind: Kind;
  phase: BatchPhase;
  /** Which executor (0/1) or broker (1..3) it hits; drivers are always the current leader. */
  target: number;
}

/** The schedule: every kind at least twice (in seeded order), the rest random; phases at random. */
export function schedule<Kind extends string>(seed: number, count: number, kinds: readonly Kind[]): Array<Fault<Kind>> {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const chosen: Kind[] = [...kinds, ...kinds];
  while (chosen.length < count) chosen.push(pick(kinds));
  for (let i = chosen.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [chosen[i], chosen[j]] = [chosen[j] as Kind, chosen[i] as Kind];
  }
  return chosen.slice(0, Math.max(count, kinds.length)).map((kind) => ({
    kind,
    // Between the last task commit and the batch commit is reached by pausing the leader: for drivers only.
    phase: pick(kind.startsWith('driver') ? PHASES : PHASES.slice(0, 3)),
    target: kind === 'broker-restart' ? 1 + Math.floor(random() * 3) : Math.floor(random() * 2),
  }));
}

/** A seed from SLUICE_CHAOS_SEED (to replay a schedule), else a random one. */
export const chaosSeed = (): number =>
  process.env.SLUICE_CHAOS_SEED ? Number(process.env.SLUICE_CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);

/** The faults that hit sluice's own processes; a chaos test adds those of its dependencies (broker, Redis, Postgres restarts). */
export type ProcessFaultKind = 'driver-kill' | 'driver-pause' | 'executor-kill' | 'executor-pause';

export interface ChaosProcessesOptions {
  /** The job whose Redis keys say who leads and where the batch stands. */
  job: string;
  client: Redis;
  /** Two drivers (every one a standby: the first to find no lease leads) and two executors, started and restarted by these. */
  startDriver(i: number): SluiceProcess;
  startExecutor(i: number): SluiceProcess;
}

/**
 * The processes of a chaos run: two drivers and two executors, restarted when they die, and the
 * seeded faults applied to them at the phase of a batch each names.
 */
export class ChaosProcesses {
  readonly drivers: SluiceProcess[] = [];
  readonly executors: SluiceProcess[] = [];
  /** One line per fault applied. */
  readonly log: string[] = [];

  constructor(private readonly options: ChaosProcessesOptions) {}

  exited(p: SluiceProcess | undefined): boolean {
    return !p || p.child.exitCode !== null || p.child.signalCode !== null;
  }

  /** Restarts whatever died (a paused process is resumed first). */
  heal(): void {
    for (const p of [...this.drivers, ...this.executors]) if (p && !this.exited(p)) signal(p.pid, 'SIGCONT');
    [0, 1].forEach((i) => this.exited(this.drivers[i]) && (this.drivers[i] = this.options.startDriver(i)));
    [0, 1].forEach((i) => this.exited(this.executors[i]) && (this.executors[i] = this.options.startExecutor(i)));
  }

  /** A failed wait, with the faults so far and the drivers' last output. */
  explained = (e: Error): never => {
    throw new Error(`${e.message}\n${this.log.join('\n')}\n${this.drivers.map((d) => d.stderr.slice(-2000)).join('\n---\n')}`);
  };

  /** The driver process holding the lease (its id is <host>-<pid>-<random>). */
  async leader(): Promise<SluiceProcess> {
    return waitFor(
      async () => {
        const owner = await this.options.client.get(jobKeys(this.options.job).leader);
        const pid = owner ? Number(/-(\d+)-[0-9a-f]+$/.exec(owner)?.[1]) : NaN;
        return this.drivers.find((d) => d.pid === pid && !this.exited(d));
      },
      { timeoutMs: 30_000, intervalMs: 50, label: 'a leading driver' }
    );
  }

  async committedBatches(): Promise<number> {
    return Number((await this.options.client.get(jobKeys(this.options.job).committed)) ?? 0);
  }

  private async phaseReached(phase: BatchPhase): Promise<boolean> {
    return waitFor(async () => ((await batchPhase(this.options.client, this.options.job)).phase === phase ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 5,
      label: `phase ${phase}`,
    }).then(
      () => true,
      () => false
    );
  }

  /**
   * Applies the faults in order: each at its phase (a driver fault once the other driver stands
   * by), then heals and waits for a batch to commit (progress before the next fault, as Kafka's
   * system tests bounce only after progress). `other` applies the kinds that are not process faults.
   */
  async run<Kind extends string>(
    faults: Array<Fault<Kind>>,
    other: (fault: Fault<Kind>) => Promise<void> | void
  ): Promise<Record<Kind, number>> {
    const counted = {} as Record<Kind, number>;
    for (const [n, fault] of faults.entries()) {
      this.heal();
      const lead = await this.leader();
      if (fault.kind.startsWith('driver')) {
        const standby = this.drivers.find((d) => d !== lead) as SluiceProcess;
        await standby.waitForOutput(/standing by/, 30_000);
      }
      const atPhase =
        fault.phase === 'tasks-done'
          ? // Freeze the leader mid-task; the executors finish and commit every range, the batch stays uncommitted.
            (await this.phaseReached('mid-task')) && (signal(lead.pid, 'SIGSTOP'), await this.phaseReached('tasks-done'))
          : await this.phaseReached(fault.phase);
      const before = await this.committedBatches();
      if (!fault.kind.startsWith('driver')) signal(lead.pid, 'SIGCONT');
      await this.apply(fault, lead, before, () => other(fault));
      counted[fault.kind] = (counted[fault.kind] ?? 0) + 1;
      this.log.push(`fault ${n + 1}/${faults.length}: ${fault.kind} at ${fault.phase}${atPhase ? '' : ' (phase not reached in 15 s)'}`);
      process.stdout.write(`chaos: ${this.log[this.log.length - 1] as string}\n`);
      this.heal();
      await waitFor(async () => (await this.committedBatches()) > before || undefined, {
        timeoutMs: 60_000,
        intervalMs: 50,
        label: `progress after ${fault.kind}`,
      }).catch(this.explained);
    }
    return counted;
  }

  private async apply(fault: Fault<string>, lead: SluiceProcess, before: number, other: () => Promise<void> | void): Promise<void> {
    switch (fault.kind as ProcessFaultKind) {
      case 'driver-kill':
        signal(lead.pid, 'SIGKILL');
        await lead.exit(10_000);
        return;
      case 'driver-pause': {
        signal(lead.pid, 'SIGSTOP');
        // Resumed only after the standby took over: it must find itself fenced.
        await waitFor(async () => ((await this.leader()) !== lead ? true : undefined), { timeoutMs: 30_000, label: 'takeover' }).catch(
          this.explained
        );
        signal(lead.pid, 'SIGCONT');
        const { code } = await lead.exit(30_000);
        if (code === 0) throw new Error('a paused and resumed leader exited 0: it did not find itself fenced');
        return;
      }
      case 'executor-kill':
        signal((this.executors[fault.target] as SluiceProcess).pid, 'SIGKILL');
        return;
      case 'executor-pause': {
        const victim = this.executors[fault.target] as SluiceProcess;
        signal(victim.pid, 'SIGSTOP');
        // Paused until a batch commits without it (or the batch waits on it for 3 s at most).
        await waitFor(async () => (await this.committedBatches()) > before || undefined, { timeoutMs: 3000, label: 'pause' }).catch(
          () => undefined
        );
        signal(victim.pid, 'SIGCONT');
        return;
      }
      default:
        await other();
    }
  }

  /**
   * Heals, then waits until the job is idle with its checkpoint at the topic's end offsets (which it
   * returns, `topic:partition` -> offset): production must have stopped.
   */
  async drain(topic: string, timeoutMs: number): Promise<Record<string, string>> {
    this.heal();
    const admin = clusterKafka().admin();
    await admin.connect();
    const ends = Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [`${topic}:${o.partition}`, o.offset]));
    await admin.disconnect();
    await waitFor(
      async () => {
        const offsets = await checkpoint(this.options.client, topic);
        const idle = (await batchPhase(this.options.client, topic)).phase === 'idle';
        return idle && Object.entries(ends).every(([key, end]) => offsets[key] === end) ? true : undefined;
      },
      { timeoutMs, intervalMs: 200, label: 'drained: checkpoint at the end offsets' }
    ).catch(this.explained);
    return ends;
  }

  /** Stops the processes still running (SIGTERM). */
  stop(): void {
    for (const p of [...this.drivers, ...this.executors]) if (!this.exited(p)) p.kill('SIGTERM');
  }
}

/**
 * The processes of a sink's chaos run (postgres-chaos, kafka-sink-chaos): two standby drivers and
 * two executors of `job` (the sluice arguments naming the job, topic and rates) with short leases and
 * heartbeats, executors committing every 100 records; returned once two batches committed.
 */
export async function startSinkChaos(o: { topic: string; client: Redis; job: string[]; env: NodeJS.ProcessEnv }): Promise<ChaosProcesses> {
  const ports = [String(await freePort()), String(await freePort())];
  const list = ports.map((p) => `127.0.0.1:${p}`).join(',');
  const driverEnv = { ...o.env, SLUICE_DRIVER_LEASE_TTL_MS: '2000', SLUICE_DRIVER_HEARTBEAT_TIMEOUT_MS: '4000' };
  const executorEnv = { ...o.env, ...smallChunks(100) };
  const chaos = new ChaosProcesses({
    job: o.topic,
    client: o.client,
    startDriver: (i) => sluice(['driver', ...o.job, '--grpc-port', ports[i] as string, '--standby'], driverEnv),
    startExecutor: (i) => sluice(['executor', ...o.job, '--driver', list, '--id', `e${i}`], executorEnv),
  });
  chaos.heal();
  await waitFor(async () => (await chaos.committedBatches()) >= 2 || undefined, { timeoutMs: 60_000, label: 'first batches' });
  return chaos;
}
