import type Redis from 'ioredis';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { jobKeys } from '@sluice/common';
import type { SluiceProcess } from './processes';
import { waitFor } from './wait-for';

/** The driver's HTTP base URL, from the line it prints once it listens. */
export async function driverUrl(driver: SluiceProcess, timeoutMs = 30_000): Promise<string> {
  const [, url] = await driver.waitForOutput(/HTTP server \(UI, API, metrics\) at (http:\/\/[\d.:]+)/, timeoutMs);
  return url as string;
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as T };
}

export interface ExecutorView {
  id: string;
  state: 'alive' | 'lost';
  runningTasks: number;
}

/** Waits until the driver lists exactly these executors as alive. */
export async function waitForAliveExecutors(url: string, ids: string[], timeoutMs = 30_000): Promise<void> {
  const want = [...ids].sort().join(',');
  await waitFor(
    async () => {
      const { body } = await getJson<ExecutorView[]>(`${url}/api/v1/executors`);
      const alive = body
        .filter((e) => e.state === 'alive')
        .map((e) => e.id)
        .sort()
        .join(',');
      return alive === want ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, label: `alive executors = [${want}]` }
  );
}

/** The JSON log lines of a process (LOG_LEVEL set, stderr not a terminal) whose `msg` is `msg`. */
export function logLines(proc: SluiceProcess, msg: string): Array<Record<string, unknown>> {
  return proc.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((entry) => entry.msg === msg);
}

export type BatchPhase = 'idle' | 'dispatched' | 'mid-task' | 'tasks-done';

/**
 * Where the job's batch in flight stands, read from Redis in one transaction: `idle` (no planned
 * batch: planning or waiting for the next tick), `dispatched` (planned, no chunk committed yet),
 * `mid-task` (some chunks committed, not all), `tasks-done` (every range committed, the batch not yet).
 */
export async function batchPhase(client: Redis, job: string): Promise<{ phase: BatchPhase; planId?: number; epoch?: string }> {
  const keys = jobKeys(job);
  const replies = (await client.multi().hget(keys.planned, 'plan').get(keys.committed).hgetall(keys.offsets).exec()) ?? [];
  const [planJson, committed, offsets] = replies.map(([e, v]) => {
    if (e) throw e;
    return v;
  }) as [string | null, string | null, Record<string, string>];
  if (planJson === null) return { phase: 'idle' };
  const plan = JSON.parse(planJson) as {
    id: number;
    epoch: string;
    ranges: Array<{ topic: string; partition: number; from: string; until: string }>;
  };
  if (plan.id <= Number(committed ?? 0)) return { phase: 'idle' };
  const ranges = plan.ranges.filter((r) => BigInt(r.until) > BigInt(r.from));
  const at = ranges.map((r) => BigInt(offsets[`${r.topic}:${r.partition}`] ?? r.from));
  const done = ranges.filter((r, i) => (at[i] as bigint) >= BigInt(r.until)).length;
  const untouched = ranges.filter((r, i) => at[i] === BigInt(r.from)).length;
  const phase: BatchPhase =
    ranges.length > 0 && done === ranges.length ? 'tasks-done' : untouched === ranges.length ? 'dispatched' : 'mid-task';
  return { phase, planId: plan.id, epoch: plan.epoch };
}

/** Polls (every 10 ms) until the job's batch in flight is in `phase`. */
export async function waitForPhase(
  client: Redis,
  job: string,
  phase: BatchPhase,
  timeoutMs = 30_000
): Promise<{ planId?: number; epoch?: string }> {
  return waitFor(
    async () => {
      const state = await batchPhase(client, job);
      return state.phase === phase ? state : undefined;
    },
    { timeoutMs, intervalMs: 10, label: `batch phase ${phase}` }
  );
}

/** Values `prefix0..prefix(n-1)` spread over `partitions`, sent `perSend` per partition at a time (one record batch each). */
export async function produceInBatches(brokers: string, topic: string, values: string[], partitions: number, perSend = 50): Promise<void> {
  const kafka = new Kafka({ clientId: 'sluice-fault-producer', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const byPartition: string[][] = Array.from({ length: partitions }, () => []);
    values.forEach((value, i) => byPartition[i % partitions]?.push(value));
    for (let start = 0; ; start += perSend) {
      const topicMessages = byPartition
        .map((list, partition) => list.slice(start, start + perSend).map((value) => ({ value, partition })))
        .filter((messages) => messages.length > 0);
      if (topicMessages.length === 0) break;
      await Promise.all(topicMessages.map((messages) => producer.send({ topic, acks: -1, messages })));
    }
  } finally {
    await producer.disconnect();
  }
}

/** The environment of executors that commit every `chunk` records (one record batch per fetch). */
export const smallChunks = (chunk = 50): NodeJS.ProcessEnv => ({
  SLUICE_EXECUTOR_MAX_CHUNK_RECORDS: String(chunk),
  SLUICE_KAFKA_PARTITION_MAX_BYTES: '1',
});

/**
 * Produces unique values (`<prefix>-<n>`) continuously, round-robin over `partitions`, `perTick`
 * every `tickMs`, with acks=all. A send that fails may or may not have been written: its values are
 * `uncertain` (counted 0 or 1 times by the job, never more); every `acked` value must count once.
 */
export class ContinuousProducer {
  readonly acked: string[] = [];
  readonly uncertain: string[] = [];
  private next = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly brokers: string,
    private readonly topic: string,
    private readonly partitions: number,
    private readonly prefix: string,
    private readonly perTick = 20,
    private readonly tickMs = 100
  ) {}

  start(): void {
    const kafka = new Kafka({
      clientId: 'sluice-fault-producer',
      brokers: this.brokers.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    // Idempotent: a retried send is not written twice (kafkajs without it duplicates and drops records
    // around leader changes; what the job must match is in any case the log as written, see topicValueCounts).
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    this.loop = (async () => {
      await producer.connect();
      while (!this.stopped) {
        const values = Array.from({ length: this.perTick }, () => `${this.prefix}-${this.next++}`);
        try {
          await producer.send({
            topic: this.topic,
            acks: -1,
            timeout: 10_000,
            messages: values.map((value, i) => ({ value, partition: (this.next - this.perTick + i) % this.partitions })),
          });
          this.acked.push(...values);
        } catch {
          this.uncertain.push(...values);
        }
        await new Promise((resolve) => setTimeout(resolve, this.tickMs));
      }
      await producer.disconnect().catch(() => undefined);
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * How many times each value is in `topic`, as kcat (librdkafka, a third-party client) reads it under
 * read_committed: the input the job's output must equal (Kafka Streams' EOS verifier does the same).
 */
export async function topicValueCounts(brokers: string, topic: string): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)(
    'kcat',
    ['-b', brokers, '-C', '-t', topic, '-e', '-q', '-f', '%s\\n', '-X', 'isolation.level=read_committed'],
    { maxBuffer: 256 * 1024 * 1024 }
  );
  const counts = new Map<string, number>();
  for (const value of stdout.split('\n')) if (value !== '') counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

/**
 * The job counted every record of the topic exactly once: its audit equals the topic's values with
 * their multiplicity. Returns duplicates (counted more often than in the log) and lost (less often).
 */
export function compareWithTopic(counts: Map<string, number>, inTopic: Map<string, number>): { duplicates: number; lost: number } {
  const lost: string[] = [];
  const duplicated: string[] = [];
  for (const [value, n] of inTopic) {
    const got = counts.get(value) ?? 0;
    if (got < n) lost.push(`${value} (${got} of ${n})`);
    if (got > n) duplicated.push(`${value} (${got} for ${n})`);
  }
  for (const [value, got] of counts) if (!inTopic.has(value)) duplicated.push(`${value} (${got}, not in the topic)`);
  return {
    duplicates: duplicated.length,
    lost: lost.length,
    ...(lost.length + duplicated.length > 0 ? { examples: [...lost, ...duplicated].slice(0, 5) } : {}),
  };
}

/**
 * Exactly-once when some sends had an unknown outcome: every acknowledged value counted once, an
 * uncertain one at most once, nothing else. Returns how many values were counted.
 */
export function assertExactlyOnceAllowingUncertain(
  counts: Map<string, number>,
  acked: string[],
  uncertain: string[]
): { duplicates: number; lost: number } {
  const maybe = new Set(uncertain);
  const ackedSet = new Set(acked);
  const lost = acked.filter((v) => (counts.get(v) ?? 0) === 0);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([v, n]) => `${v}x${n}`);
  const unexpected = [...counts.keys()].filter((v) => !ackedSet.has(v) && !maybe.has(v));
  const problems = [
    lost.length ? `${lost.length} lost (e.g. ${lost.slice(0, 5).join(', ')})` : '',
    duplicated.length ? `${duplicated.length} duplicated (e.g. ${duplicated.slice(0, 5).join(', ')})` : '',
    unexpected.length ? `${unexpected.length} unexpected (e.g. ${unexpected.slice(0, 5).join(', ')})` : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`exactly-once violated: ${problems.join('; ')} of ${acked.length} acknowledged values`);
  return { duplicates: duplicated.length, lost: lost.length };
}
