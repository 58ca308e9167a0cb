import { EventEmitter, once } from 'node:events';
import { grpcSecurity, loadServices, SluiceError, type ExecutorClient, type GrpcSecurity, type Logger } from '@sluice/common';
import { TaskGroupStream } from './task-group-stream';

/** A registered executor as the driver sees it. */
export interface ExecutorHandle {
  readonly id: string;
  readonly address: string;
  readonly slots: number;
  readonly client: ExecutorClient;
  /** The executor's TaskGroups stream, over `client`. */
  readonly groups: TaskGroupStream;
  lastHeartbeat: number;
  running: number;
  finishedTasks: number;
  failedTasks: number;
  /** Resolves when a task slot is free; the caller must call {@link release}. */
  acquire(): Promise<void>;
  release(): void;
  /** Closes the connection once no task runs on it any more. */
  retire(): void;
  /** Closes the connection now: calls still running on it fail. */
  close(): void;
}

/** An executor as the HTTP API shows it; lost ones stay listed for {@link LOST_RETENTION_MS}. */
export interface ExecutorInfo {
  id: string;
  address: string;
  slots: number;
  state: 'alive' | 'lost';
  runningTasks: number;
  finishedTasks: number;
  failedTasks: number;
  /** Milliseconds since its last heartbeat. */
  lastHeartbeatMs: number;
}

export const LOST_RETENTION_MS = 10 * 60_000;
const MAX_LOST = 100;

/**
 * Executors known to the driver. An executor is alive from its registration until it deregisters,
 * misses heartbeats for `heartbeatTimeoutMs`, or a call to it finds it unreachable.
 */
export class ExecutorRegistry extends EventEmitter {
  private readonly executors = new Map<string, ExecutorHandle>();
  private readonly lost = new Map<string, { info: ExecutorInfo; lostAt: number; lastHeartbeat: number }>();
  private readonly reaper: NodeJS.Timeout;

  constructor(
    private readonly heartbeatTimeoutMs: number,
    private readonly logger: Logger,
    /** Credentials and options of the clients that call executors. */
    private readonly security: GrpcSecurity = grpcSecurity()
  ) {
    super();
    this.reaper = setInterval(() => this.removeSilent(), Math.max(100, Math.floor(heartbeatTimeoutMs / 4)));
    this.reaper.unref();
  }

  register(id: string, address: string, slots: number): void {
    const existing = this.executors.get(id);
    if (existing && existing.address === address) {
      existing.lastHeartbeat = Date.now();
      return;
    }
    if (existing) this.remove(id, 're-registered with a new address');
    const client = new (loadServices().Executor)(address, this.security.channelCredentials(), this.security.clientOptions);
    this.lost.delete(id);
    this.executors.set(id, createHandle(id, address, slots, client));
    this.logger.info({ executor: id, address, slots }, 'executor registered');
    this.emit('change');
  }

  /** @returns false when the executor is unknown (it must register again). */
  heartbeat(id: string): boolean {
    const handle = this.executors.get(id);
    if (!handle) return false;
    handle.lastHeartbeat = Date.now();
    return true;
  }

  /**
   * @param reason why, for the log. `deregistered` (a graceful shutdown) keeps the connection open
   *   until the tasks still running on it have answered; any other reason closes it now.
   */
  remove(id: string, reason: string): void {
    const handle = this.executors.get(id);
    if (!handle) return;
    this.executors.delete(id);
    if (reason === 'deregistered') handle.retire();
    else handle.close();
    this.lost.set(id, {
      info: { ...describe(handle, Date.now()), state: 'lost', runningTasks: 0 },
      lostAt: Date.now(),
      lastHeartbeat: handle.lastHeartbeat,
    });
    if (this.lost.size > MAX_LOST) this.lost.delete(this.lost.keys().next().value as string);
    this.logger.warn({ executor: id, reason }, 'executor removed');
    this.emit('change');
  }

  get(id: string): ExecutorHandle | undefined {
    return this.executors.get(id);
  }

  alive(): ExecutorHandle[] {
    return [...this.executors.values()];
  }

  /** Alive executors, then those lost in the last {@link LOST_RETENTION_MS}. */
  describe(): ExecutorInfo[] {
    const now = Date.now();
    for (const [id, entry] of this.lost) if (now - entry.lostAt > LOST_RETENTION_MS) this.lost.delete(id);
    return [
      ...this.alive().map((h) => describe(h, now)),
      ...[...this.lost.values()].map((entry) => ({ ...entry.info, lastHeartbeatMs: now - entry.lastHeartbeat })),
    ];
  }

  /** Waits until at least `count` executors are registered, or (returning early) until `stop` aborts. */
  async waitForExecutor(timeoutMs: number, count = 1, stop?: AbortSignal): Promise<void> {
    if (this.executors.size >= count) return;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      while (this.executors.size < count) await once(this, 'change', { signal: stop ? AbortSignal.any([timeout, stop]) : timeout });
    } catch {
      if (stop?.aborted) return;
      throw new SluiceError('SLUICE_NO_EXECUTORS', `${this.executors.size} of ${count} executor(s) registered within ${timeoutMs} ms`, {
        retriable: true,
      });
    }
  }

  /**
   * Waits for the next registration or removal, or (returning early) until `stop` aborts.
   * @throws SluiceError SLUICE_NO_EXECUTORS when none happens within `timeoutMs`.
   */
  async waitForChange(timeoutMs: number, stop?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(Math.max(0, timeoutMs));
    try {
      await once(this, 'change', { signal: stop ? AbortSignal.any([timeout, stop]) : timeout });
    } catch {
      if (stop?.aborted) return;
      throw new SluiceError('SLUICE_NO_EXECUTORS', `no executor available to take the task within the wait (driver.executorWaitMs)`, {
        retriable: true,
      });
    }
  }

  close(): void {
    clearInterval(this.reaper);
    for (const handle of this.executors.values()) handle.close();
    this.executors.clear();
  }

  private removeSilent(): void {
    const deadline = Date.now() - this.heartbeatTimeoutMs;
    for (const handle of this.alive()) {
      if (handle.lastHeartbeat < deadline) this.remove(handle.id, `no heartbeat for ${this.heartbeatTimeoutMs} ms`);
    }
  }
}

function describe(handle: ExecutorHandle, now: number): ExecutorInfo {
  return {
    id: handle.id,
    address: handle.address,
    slots: handle.slots,
    state: 'alive',
    runningTasks: handle.running,
    finishedTasks: handle.finishedTasks,
    failedTasks: handle.failedTasks,
    lastHeartbeatMs: now - handle.lastHeartbeat,
  };
}

function createHandle(id: string, address: string, slots: number, client: ExecutorClient): ExecutorHandle {
  const waiting: Array<() => void> = [];
  let retired = false;
  const handle: ExecutorHandle = {
    id,
    address,
    slots,
    client,
    groups: new TaskGroupStream(client, id),
    lastHeartbeat: Date.now(),
    running: 0,
    finishedTasks: 0,
    failedTasks: 0,
    acquire: () => {
      if (handle.running < slots) {
        handle.running++;
        return Promise.resolve();
      }
      return new Promise((resolve) =>
        waiting.push(() => {
          handle.running++;
          resolve();
        })
      );
    },
    release: () => {
      handle.running--;
      waiting.shift()?.();
      if (retired && handle.running === 0) handle.close();
    },
    retire: () => {
      retired = true;
      if (handle.running === 0) handle.close();
    },
    close: () => {
      handle.groups.close();
      client.close();
    },
  };
  return handle;
}
