import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import Redis from 'ioredis';
import { repoRoot } from './env';
import { freePort } from './processes';
import { waitFor } from './wait-for';

const run = promisify(execFile);
const kafkaSh = join(repoRoot, 'deploy', 'local', 'kafka.sh');
const redisSh = join(repoRoot, 'deploy', 'local', 'redis.sh');

/** The fault tests' own 3-node KRaft cluster (RF 3, min ISR 2): nobody else uses these ports. */
export const CLUSTER_BROKERS = '127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112';
const clusterEnv = { ...process.env, KAFKA_NODES: '3' };

async function kafkaSh3(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [kafkaSh, ...args], { env: clusterEnv, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Starts the 3-node cluster unless it runs (idempotent); returns its bootstrap list. */
export async function startCluster(): Promise<string> {
  await kafkaSh3('start', '3');
  return CLUSTER_BROKERS;
}

export async function stopCluster(): Promise<void> {
  const cache = process.env.SLUICE_CACHE ?? join(repoRoot, '.cache');
  if (!existsSync(join(cache, 'kafka', 'work-3node', 'started'))) return;
  await kafkaSh3('stop', '3');
}

/** SIGTERM node `id` (controlled shutdown), start it again and wait until it serves clients. */
export async function restartBroker(id: number): Promise<void> {
  await kafkaSh3('restart', String(id));
}

export async function killBroker(id: number): Promise<void> {
  await kafkaSh3('kill', String(id));
}

/** Kafka's own CLI tools against the cluster. */
export async function clusterCli(...args: string[]): Promise<string> {
  return kafkaSh3(...args);
}

export function clusterKafka(): Kafka {
  return new Kafka({ clientId: 'sluice-fault-tests', brokers: CLUSTER_BROKERS.split(','), logLevel: logLevel.NOTHING });
}

/**
 * A Redis server of a test's own, on a free port with its own data dir, started by
 * deploy/local/redis.sh with AOF fsynced on every write, so it can be SIGKILLed and started
 * again on the same port and dir with nothing acknowledged lost.
 */
export class OwnRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'sluice-fault-redis-'));
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const server = await OwnRedis.reserve();
    await server.start();
    return server;
  }

  /** A port and data dir, with no server yet: nothing listens until {@link start}. */
  static async reserve(): Promise<OwnRedis> {
    return new OwnRedis(await freePort());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, REDIS_PORT: String(this.port), REDIS_DIR: this.dir, REDIS_APPENDFSYNC: 'always' };
  }

  get pid(): number | undefined {
    try {
      return Number(readFileSync(join(this.dir, `redis-${this.port}.pid`), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  async start(): Promise<void> {
    await run('bash', [redisSh, 'start'], { env: this.env });
  }

  /** SIGKILL: no shutdown, no final fsync; whatever was not fsynced is gone. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), { timeoutMs: 10_000, label: `redis ${pid} gone` });
  }

  /** Stops (SIGTERM via redis.sh) and removes its data. */
  async destroy(): Promise<void> {
    await run('bash', [redisSh, 'stop'], { env: this.env }).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 1 });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends a signal to a process (SIGSTOP/SIGCONT/SIGKILL) and ignores one that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}
