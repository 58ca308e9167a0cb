import Redis from 'ioredis';
import { jobKeys, type BatchSummary } from '@sluice/common';
import { redisUrl } from './env';
import type { SluiceProcess } from './processes';
import { waitFor } from './wait-for';

export function redis(): Redis {
  return new Redis(redisUrl(), { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** The audit hash of a job: value -> count. */
export async function auditCounts(client: Redis, job: string, key = 'audit'): Promise<Map<string, number>> {
  const all = await client.hgetall(jobKeys(job).output(key));
  return new Map(Object.entries(all).map(([value, count]) => [value, Number(count)]));
}

export async function checkpoint(client: Redis, job: string): Promise<Record<string, string>> {
  return client.hgetall(jobKeys(job).offsets);
}

/**
 * Waits until the job's checkpoint equals `ends` (topic:partition -> end offset) for every partition.
 * On a timeout the error carries the end of the given processes' stderr.
 */
export async function waitForCheckpoint(
  client: Redis,
  job: string,
  ends: Record<string, string>,
  { timeoutMs = 60_000, processes = [] }: { timeoutMs?: number; processes?: SluiceProcess[] } = {}
): Promise<void> {
  await waitFor(
    async () => {
      const stored = await checkpoint(client, job);
      return Object.entries(ends).every(([key, end]) => stored[key] === end);
    },
    { timeoutMs, intervalMs: 200, label: `checkpoint at the end offsets ${JSON.stringify(ends)}` }
  ).catch((e: Error) => {
    throw new Error([e.message, ...processes.map((p) => p.stderr.slice(-3000))].join('\n---\n'));
  });
}

/** Committed batches, oldest first. */
export async function history(client: Redis, job: string): Promise<BatchSummary[]> {
  const entries = await client.xrange(jobKeys(job).batches, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('summary') + 1] as string) as BatchSummary);
}

export async function keysOf(client: Redis, job: string): Promise<string[]> {
  return client.keys(`sluice:{${job}}:*`);
}
