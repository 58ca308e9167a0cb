import { readFileSync } from 'node:fs';
import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { freePort, jobArgs, sluice, type SluiceProcess } from './processes';
import { checkpoint } from './redis';
import { waitFor } from './wait-for';

/*
 * The fault points the sink tests share (postgresSink, kafkaSink): a driver with one executor that
 * carries a fault (its own environment), and a leader killed so that the next driver takes over.
 */

/** A driver of `job` over `topic` (200 ms batches) and one executor of it, which also gets `executorEnv`. */
export async function driverWithExecutor(
  job: string,
  topic: string,
  env: NodeJS.ProcessEnv,
  executorEnv: NodeJS.ProcessEnv
): Promise<{ driver: SluiceProcess; executor: SluiceProcess }> {
  const port = String(await freePort());
  const driver = sluice(['driver', ...jobArgs(job, topic), '--grpc-port', port, '--batch-interval-ms', '200'], env);
  const executor = sluice(['executor', ...jobArgs(job, topic), '--driver', `127.0.0.1:${port}`], { ...env, ...executorEnv });
  return { driver, executor };
}

/** SIGKILLs the leader of job `topic` and waits until its lease expired: the next driver leads at once. */
export async function killLeader(driver: SluiceProcess, client: Redis, topic: string): Promise<void> {
  driver.kill('SIGKILL');
  await driver.exit();
  await waitFor(async () => (await client.exists(jobKeys(topic).leader)) === 0, { label: 'the dead leader lease expired' });
}

/** A process stopped by a signal (state T in /proc/<pid>/stat). */
export const isStopped = (pid: number): boolean => / T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/**
 * After an executor killed itself between its sink's commit and the Redis one: the sink's offsets
 * (`committed`, `topic:partition` -> offset) are ahead of the Redis checkpoint. Kills the leader, then
 * `run` (a new driver) must move every such checkpoint forward, logging it, and finish.
 */
export async function recoverFromLostRedisCommit(o: {
  driver: SluiceProcess;
  client: Redis;
  topic: string;
  committed: Record<string, string>;
  sink: string;
  run: () => SluiceProcess;
}): Promise<void> {
  const entries = Object.entries(o.committed);
  expect(entries.length).toBeGreaterThan(0);
  const redisOffsets = await checkpoint(o.client, o.topic);
  for (const [field, until] of entries) expect(redisOffsets[field]).not.toBe(until);
  await killLeader(o.driver, o.client, o.topic);

  const run = o.run();
  await run.succeeds(90_000);
  expect(run.stderr).toContain(`checkpoint moved forward to the offset the ${o.sink} sink committed`);
  for (const [field] of entries) expect(run.stderr).toContain(`"partition":"${field}"`);
}
