import type Redis from 'ioredis';
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
