import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './env';
import { waitFor } from './wait-for';

const cli = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
const live = new Set<SluiceProcess>();

/** A `sluice` process spawned from the built CLI, with its output captured for assertions. */
export class SluiceProcess {
  stdout = '';
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [cli, ...args], {
      cwd: repoRoot,
      // HTTP on any free port, so tests never collide on 4040 (the driver prints the URL it bound).
      env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', SLUICE_DRIVER_HTTP_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    // 'exit' can come before the last output has been read: wait for the pipes to close too, but
    // not for ever (grandchildren of `sluice run` that outlive it may hold them open).
    const drained = Promise.all([this.child.stdout, this.child.stderr].flatMap((s) => (s ? [once(s, 'close')] : [])));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        const bounded = setTimeout(() => resolve({ code, signal }), 1000);
        void drained.then(() => {
          clearTimeout(bounded);
          resolve({ code, signal });
        });
      })
    );
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  /** Waits for the process to exit; fails with its output if it takes longer than `timeoutMs`. */
  async exit(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`process did not exit within ${timeoutMs} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr.slice(-4000)}`)),
        timeoutMs
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for exit code 0; otherwise fails showing the end of the process's output. */
  async succeeds(timeoutMs = 60_000): Promise<void> {
    const { code, signal } = await this.exit(timeoutMs);
    if (code !== 0)
      throw new Error(`sluice exited with ${code ?? signal}\nstdout:\n${this.stdout.slice(-2000)}\nstderr:\n${this.stderr.slice(-4000)}`);
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return waitFor(() => pattern.exec(this.stdout) ?? pattern.exec(this.stderr) ?? undefined, {
      timeoutMs,
      label: `output ${pattern}`,
    }).catch((e: Error) => {
      // What the process said (and whether it is still running) is what explains a missing line.
      throw new Error(
        `${e.message}\nexit code ${this.child.exitCode}\nstdout:\n${this.stdout.slice(-2000)}\nstderr:\n${this.stderr.slice(-4000)}`
      );
    });
  }
}

export function sluice(args: string[], env?: NodeJS.ProcessEnv): SluiceProcess {
  return new SluiceProcess(args, env);
}

/** Kills whatever a test left running (call from afterEach). */
export async function killAll(): Promise<void> {
  const running = [...live];
  for (const p of running) p.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
}

/** A TCP port free on loopback right now (for a driver's gRPC port that executors must know). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Arguments of a driver and an executor of the same job (`sluice driver|executor ...`). */
export function jobArgs(job: string, topic: string, name: string = topic): string[] {
  return ['--job', job, '--topics', topic, '--name', name];
}

/** `sluice run` of the audit example over `topic` until everything present at start is committed. */
export function runAuditUntilLatest(topic: string, options: { batchIntervalMs: number; maxRatePerPartition: number }): SluiceProcess {
  return sluice([
    'run',
    ...jobArgs('examples/audit', topic),
    '--executors',
    '2',
    '--until',
    'latest',
    '--batch-interval-ms',
    String(options.batchIntervalMs),
    '--max-rate-per-partition',
    String(options.maxRatePerPartition),
  ]);
}
