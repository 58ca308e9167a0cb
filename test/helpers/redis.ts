import Redis from 'ioredis';
import { jobKeys, type BatchSummary } from '@sluice/common';
import { redisUrl } from './env';

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

/** Committed batches, oldest first. */
export async function history(client: Redis, job: string): Promise<BatchSummary[]> {
  const entries = await client.xrange(jobKeys(job).batches, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('summary') + 1] as string) as BatchSummary);
}

export async function keysOf(client: Redis, job: string): Promise<string[]> {
  return client.keys(`sluice:{${job}}:*`);
}
