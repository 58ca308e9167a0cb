import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { grpcSecurity, loadJob, resolveJobSettings, SluiceError } from '@sluice/common';
import { createDriver, type BatchEvent } from '@sluice/driver';
import { Executor } from '@sluice/executor';
import {
  commandConfig,
  driverFlags,
  flagArgs,
  jobFlags,
  positiveInteger,
  prepare,
  slotsFlag,
  type CommonFlags,
  type ConfigFlag,
} from './options';
import { BatchReporter } from './progress';

/**
 * Set by `sluice run` on its processes: their stdin is a pipe from it, which closes when it dies,
 * even by SIGKILL. They then stop as on SIGTERM rather than run on with nobody to stop them.
 */
const RUN_CHILD_ENV = 'SLUICE_RUN_CHILD';

/** Calls `stop` once the `sluice run` that started this process is gone (nothing otherwise). */
function onRunGone(stop: () => void): void {
  if (process.env[RUN_CHILD_ENV] !== '1') return;
  process.stdin.once('close', stop).resume();
  // Watching the pipe must not keep a process that is done alive.
  (process.stdin as { unref?: () => void }).unref?.();
}

/** Runs until a signal or the stop condition; SIGTERM/SIGINT let the batch in flight commit first. */
export async function driverCommand(flags: CommonFlags): Promise<void> {
  const { config, job, logger } = await prepare(flags, 'driver');
  const driver = await createDriver(config, job, logger);
  const stop = (): void => driver.stop();
  process.once('SIGTERM', stop).once('SIGINT', stop);
  onRunGone(stop);
  const reporter = new BatchReporter();
  driver.on('batch', (event: BatchEvent) => reporter.report(event));
  try {
    await driver.start();
    process.stderr.write(`sluice driver: HTTP server (UI, API, metrics) at ${driver.httpUrl}\n`);
    await driver.run();
  } finally {
    await driver.close();
  }
}

export async function executorCommand(flags: CommonFlags): Promise<void> {
  const { config, job, logger } = await prepare(flags, 'executor');
  const executor = await Executor.start(config, job, logger);
  await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT'), new Promise<void>((resolve) => onRunGone(resolve))]);
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

/** Resolves once something accepts TCP connections on the port (polled every 100 ms). */
async function listening(port: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const socket = connect(port, '127.0.0.1');
    const accepted = await new Promise<boolean>((resolve) =>
      socket.once('connect', () => resolve(true)).once('error', () => resolve(false))
    );
    socket.destroy();
    if (accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RunFlags extends CommonFlags {
  executors: string;
}

/** Flags of `run` that it checks and passes on to every process. */
const sharedFlags: ConfigFlag[] = jobFlags;
/** Executors of `sluice run` when `--executors` is not given. */
export const DEFAULT_EXECUTORS = 2;
/** Restarts in a row of an executor of `sluice run` that dies, at most. */
export const MAX_EXECUTOR_RESTARTS = 5;
/** Wait before the first restart, doubled for each further one in a row. */
const RESTART_BACKOFF_MS = 1000;
/** An executor that ran this long before it died starts a new row of restarts. */
const HEALTHY_RUN_MS = 60_000;

/**
 * What `run` does when an executor dies after `ranForMs`, having died `failuresInARow` times in a
 * row before: restart it after a delay (1, 2, 4, 8, 16 s), or give up (undefined).
 */
export function restartPolicy(failuresInARow: number, ranForMs: number): { restart: number; delayMs: number } | undefined {
  const restart = ranForMs >= HEALTHY_RUN_MS ? 1 : failuresInARow + 1;
  return restart > MAX_EXECUTOR_RESTARTS ? undefined : { restart, delayMs: RESTART_BACKOFF_MS * 2 ** (restart - 1) };
}

function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Local mode: a driver and N executor processes on loopback, as separate processes exactly as on
 * Kubernetes. The configuration and the job module are checked here first; the executors start
 * once the driver listens, so a start-up failure is reported once, by whichever process met it.
 * An executor that dies is reported and restarted, with a backoff, at most MAX_EXECUTOR_RESTARTS
 * times in a row; the job goes on meanwhile (the driver runs its tasks elsewhere). Exits with the
 * driver's exit code once the driver is done.
 */
export async function runCommand(flags: RunFlags): Promise<number> {
  const count = positiveInteger('--executors', flags.executors);
  const driverConfig = commandConfig(flags, [...sharedFlags, ...driverFlags]);
  commandConfig(flags, [...sharedFlags, slotsFlag]);
  resolveJobSettings(await loadJob(flags.job), driverConfig);
  grpcSecurity(driverConfig.grpc);

  const port = flags.grpcPort === undefined ? await freePort() : driverConfig.driver.grpcPort;
  const self = [...process.execArgv, process.argv[1] as string];
  const shared = [
    '--job',
    flags.job,
    ...(flags.config === undefined ? [] : ['--config', flags.config]),
    ...(flags.conf ?? []).flatMap((c) => ['--conf', c]),
    ...flagArgs(flags, sharedFlags),
  ];
  const driverArgs = [
    ...shared,
    ...flagArgs({ ...flags, grpcPort: String(port), minExecutors: flags.minExecutors ?? String(count) }, driverFlags),
  ];

  // Local mode fails at once when Redis cannot be reached, unless a start-up wait is configured.
  const waitsForRedis = driverConfig.redis.startupTimeoutMs !== undefined;
  const env = waitsForRedis ? process.env : { ...process.env, SLUICE_REDIS_STARTUP_TIMEOUT_MS: '0' };

  const children = new Set<ChildProcess>();
  const start = (name: string, role: string, args: string[]): ChildProcess => {
    // Own process groups: a terminal's Ctrl-C reaches only `run`, which stops the driver first
    // (its batch in flight commits) and the executors after it.
    // stdin: a pipe never written to; it closes when `run` dies, and the child stops (onRunGone).
    const child = spawn(process.execPath, [...self, role, ...args], {
      stdio: ['pipe', 'inherit', 'inherit'],
      detached: true,
      env: { ...env, [RUN_CHILD_ENV]: '1' },
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    process.stderr.write(`sluice run: started ${name} (pid ${child.pid})\n`);
    return child;
  };
  // Detached children outlive an abrupt exit of `run` unless told to stop (or, killed, by their stdin closing).
  const stopChildren = (): void => children.forEach((child) => child.kill('SIGTERM'));
  process.once('exit', stopChildren);
  const driver = start('driver', 'driver', driverArgs);
  const driverExit = once(driver, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const forward = (signal: NodeJS.Signals): void => void driver.kill(signal);
  process.on('SIGTERM', forward).on('SIGINT', forward);

  const done = new AbortController();
  const restarts = new Set<NodeJS.Timeout>();
  const startExecutor = (index: number, failuresInARow: number): void => {
    const name = `executor-${index}`;
    const args = [...shared, ...flagArgs(flags, [slotsFlag]), '--driver', `127.0.0.1:${port}`, '--id', name];
    const child = start(name, 'executor', args);
    const started = Date.now();
    child.once('exit', (code, signal) => {
      if (done.signal.aborted) return;
      const what = `${name} (pid ${child.pid}) ${exitDescription(code, signal)}`;
      const next = restartPolicy(failuresInARow, Date.now() - started);
      if (!next) {
        report(`${what}; not restarted: it died ${MAX_EXECUTOR_RESTARTS + 1} times in a row`);
        return;
      }
      report(`${what}; restarting it in ${next.delayMs / 1000} s (restart ${next.restart} of at most ${MAX_EXECUTOR_RESTARTS} in a row)`);
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (!done.signal.aborted) startExecutor(index, next.restart);
      }, next.delayMs);
      restarts.add(timer);
    });
  };

  try {
    const ready = await Promise.race([listening(port, done.signal).then(() => true), driverExit.then(() => false)]);
    if (ready) for (let i = 1; i <= count; i++) startExecutor(i, 0);
    const [code, signal] = await driverExit;
    return code ?? (signal ? 128 + 15 : 1);
  } finally {
    done.abort();
    restarts.forEach(clearTimeout);
    const executors = [...children];
    executors.forEach((child) => child.kill('SIGTERM'));
    await Promise.all(executors.map((child) => once(child, 'exit')));
    process.off('SIGTERM', forward).off('SIGINT', forward);
    process.off('exit', stopChildren);
  }
}

function report(message: string): void {
  process.stderr.write(`sluice run: ${new SluiceError('SLUICE_EXECUTOR_LOST', message).message}\n`);
}
