import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createDriver, type BatchEvent } from '@sluice/driver';
import { Executor } from '@sluice/executor';
import { configFromFlags, prepare, type CommonFlags } from './options';
import { BatchReporter } from './progress';

/** Runs until a signal or the stop condition; SIGTERM/SIGINT let the batch in flight commit first. */
export async function driverCommand(flags: CommonFlags): Promise<void> {
  const { config, job, logger } = await prepare(flags, 'driver');
  const driver = await createDriver(config, job, logger);
  const stop = (): void => driver.stop();
  process.once('SIGTERM', stop).once('SIGINT', stop);
  const reporter = new BatchReporter();
  driver.on('batch', (event: BatchEvent) => reporter.report(event));
  try {
    await driver.start();
    process.stderr.write(`sluice driver: HTTP server (UI, API, metrics) at ${driver.httpUrl}\n`);
    await driver.run();
  } finally {
    reporter.finish();
    await driver.close();
  }
}

export async function executorCommand(flags: CommonFlags): Promise<void> {
  const { config, job, logger } = await prepare(flags, 'executor');
  const executor = await Executor.start(config, job, logger);
  await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  // A second signal stops waiting for running tasks: they are handed back at once.
  const now = new AbortController();
  const hurry = (): void => now.abort();
  process.once('SIGTERM', hurry).once('SIGINT', hurry);
  await executor.close(now.signal);
  process.exitCode = 0;
  // A handed-back task's job code may still hold timers or sockets; nothing of it matters any more.
  setTimeout(() => process.exit(), 1000).unref();
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The flags `run` passes on to its driver and executors unchanged. */
function sharedArgs(flags: CommonFlags): string[] {
  const pairs: Array<[string, string | undefined]> = [
    ['--job', flags.job],
    ['--config', flags.config],
    ['--name', flags.name],
    ['--topics', flags.topics],
    ['--pattern', flags.pattern],
    ['--starting-offsets', flags.startingOffsets],
    ['--batch-interval-ms', flags.batchIntervalMs],
    ['--max-rate-per-partition', flags.maxRatePerPartition],
    ['--log-level', flags.logLevel],
  ];
  return pairs.flatMap(([flag, value]) => (value === undefined ? [] : [flag, value]));
}

/**
 * Local mode: a driver and N executor processes on loopback, as separate processes exactly as on
 * Kubernetes. Exits with the driver's exit code once the driver is done.
 */
export async function runCommand(flags: CommonFlags & { executors: string }): Promise<number> {
  const count = Number(flags.executors);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--executors: expected a positive integer, got '${flags.executors}'`);
  const port = flags.grpcPort ?? String(await freePort());
  const self = [...process.execArgv, process.argv[1] as string];
  const shared = sharedArgs(flags);
  const driverArgs = [...shared, '--grpc-port', port, '--min-executors', flags.minExecutors ?? String(count)];
  if (flags.batches !== undefined) driverArgs.push('--batches', flags.batches);
  if (flags.until !== undefined) driverArgs.push('--until', flags.until);
  if (flags.httpPort !== undefined) driverArgs.push('--http-port', flags.httpPort);

  // Local mode fails at once when Redis cannot be reached, unless a start-up wait is configured.
  const waitsForRedis = configFromFlags(flags, 'driver').redis.startupTimeoutMs !== undefined;
  const env = waitsForRedis ? process.env : { ...process.env, SLUICE_REDIS_STARTUP_TIMEOUT_MS: '0' };

  const children: ChildProcess[] = [];
  const start = (role: string, args: string[]): ChildProcess => {
    // Own process groups: a terminal's Ctrl-C reaches only `run`, which stops the driver first
    // (its batch in flight commits) and the executors after it.
    const child = spawn(process.execPath, [...self, role, ...args], { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env });
    children.push(child);
    process.stderr.write(`sluice run: started ${role} (pid ${child.pid})\n`);
    return child;
  };
  const driver = start('driver', driverArgs);
  for (let i = 1; i <= count; i++) {
    const executorArgs = [...shared, '--driver', `127.0.0.1:${port}`, '--id', `executor-${i}`];
    if (flags.slots !== undefined) executorArgs.push('--slots', flags.slots);
    start('executor', executorArgs);
  }
  const forward = (signal: NodeJS.Signals): void => void driver.kill(signal);
  process.on('SIGTERM', forward).on('SIGINT', forward);
  // Detached children outlive an abrupt exit of `run` unless told to stop.
  process.once('exit', () => children.forEach((child) => child.exitCode === null && child.kill('SIGTERM')));

  const [code, signal] = (await once(driver, 'exit')) as [number | null, NodeJS.Signals | null];
  for (const child of children) if (child !== driver && child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.filter((c) => c !== driver && c.exitCode === null && c.signalCode === null).map((c) => once(c, 'exit')));
  process.off('SIGTERM', forward).off('SIGINT', forward);
  return code ?? (signal ? 128 + 15 : 1);
}
