import { readFileSync } from 'node:fs';
import type Redis from 'ioredis';
import { jobKeys } from '@sluice/common';
import { freePort, jobArgs, sluice, type SluiceProcess } from './processes';
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
