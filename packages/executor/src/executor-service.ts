import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import {
  asRedisOutage,
  grpcSecurity,
  InvalidRequestError,
  loadServices,
  partitionKey,
  SluiceError,
  subscriptionCovers,
  toServiceError,
  toWireFailure,
  type ExecutorHandlers,
  type GrpcSecurity,
  type Logger,
  type OffsetRange,
  type Subscription,
  type WireTaskGroupAnswer,
  type WireTaskGroupCall,
  type WireTaskGroupItem,
  type WireTaskRequest,
  type WireTaskResult,
} from '@sluice/common';
import type { ExecutorMetrics } from './metrics';
import { refusedReceiverCalls } from './receiver/direct-mode-refusal';
import type { Task, TaskRunner } from './task-runner';
import { toWireResult } from './wire-result';

export interface ExecutorServiceOptions {
  executorId: string;
  job: string;
  host: string;
  port: number;
  slots: number;
  /** What the job reads: a task for a range outside it is refused. */
  subscription?: Subscription;
  /** The job's current epoch in Redis: a task carrying a later one ("from the future") is refused. */
  currentEpoch?: () => Promise<string | null>;
  /**
   * Throws TaskOutsidePlanError when the range is not inside the stored plan of the batch: such a
   * task is refused before it reads anything (the commit script refuses its commits anyway).
   */
  checkInPlan?: (batchId: number, range: OffsetRange) => Promise<void>;
  /** Credentials, message limit and token check (default: plaintext, 4 MiB, no token). */
  security?: GrpcSecurity;
  /** Time for the drain's deadline and a task group's timeout (default: the system's). */
  clock?: Clock;
  /** Receiver mode's calls (Receive, RunBlockTask), served in this service's slots; absent: refused. */
  receivers?: (slots: TaskSlots) => Pick<ExecutorHandlers, 'Receive' | 'RunBlockTask'>;
}

/** The task slots, for calls served outside this class (receiver mode). */
export interface TaskSlots {
  /** Runs `work` in one slot; refused while draining or when every slot is taken. */
  inSlot<T>(what: string, work: () => Promise<T>): Promise<T>;
}

/** What the service needs of time; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/** A task being run: its cancellation, and how to answer its call early when it is handed back. */
interface RunningTask {
  controller: AbortController;
  handBack(error: SluiceError): void;
}

/**
 * Answers a unary call with what `work` returns or throws. `work`'s controller aborts when the
 * driver gives up on the call (deadline, cancel, gone): the task stops reading and frees its slot.
 * grpc-js also reports the close of a call already answered as cancelled; that aborts nothing (an
 * abort builds a DOMException with its stack trace, once per call).
 */
export function serveUnary<Res>(
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<Res>,
  work: (controller: AbortController) => Promise<Res>
): void {
  const controller = new AbortController();
  let answered = false;
  call.on('cancelled', () => {
    if (!answered) controller.abort();
  });
  work(controller).then(
    (result) => {
      answered = true;
      callback(null, result);
    },
    (e: unknown) => {
      answered = true;
      callback(toServiceError(e));
    }
  );
}

/** Kafka's legal topic names. */
export const topicPattern = /^[A-Za-z0-9._-]{1,249}$/;
export const int64Pattern = /^-?\d{1,19}$/;

/**
 * The gRPC Executor service (RunTask, TaskGroups, CancelTask) and the standard gRPC health
 * service. Tasks beyond `slots` are refused with RESOURCE_EXHAUSTED: the driver respects slots, so
 * this only guards against a confused or hostile peer. While draining (graceful shutdown) every new
 * task is refused with UNAVAILABLE (`SLUICE_EXECUTOR_LOST`, retriable), so the driver sends it to
 * another executor.
 */
export class ExecutorService {
  readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly server: grpc.Server;
  private readonly security: GrpcSecurity;
  private readonly running = new Map<string, RunningTask>();
  private draining = false;
  /** RunTask calls and task groups being served: each takes one of `slots`. */
  private slotsInUse = 0;
  /** Resolves whenever a task leaves `running` (the drain waits on it). */
  private taskDone: (() => void) | undefined;
  /** Open TaskGroups streams, ended on close. */
  private readonly groupStreams = new Set<grpc.ServerDuplexStream<WireTaskGroupCall, WireTaskGroupAnswer>>();
  /** Epochs only grow: one at or below an epoch already read from Redis needs no new read. */
  private knownEpoch = 0n;
  private readonly clock: Clock;
  /** The Executor service's handlers, as the gRPC server calls them. */
  readonly handlers: ExecutorHandlers;

  constructor(
    private readonly runner: TaskRunner,
    private readonly options: ExecutorServiceOptions,
    private readonly logger: Logger,
    private readonly metrics?: ExecutorMetrics
  ) {
    this.security = options.security ?? grpcSecurity();
    this.clock = options.clock ?? systemClock;
    this.server = new grpc.Server(this.security.serverOptions);
    this.handlers = {
      RunTask: (call, callback) => {
        serveUnary(call, callback, (controller) =>
          this.inSlot(call.request.task_id, async () => this.runTask(await this.validate(call.request), controller))
        );
      },
      TaskGroups: (stream) => this.serveTaskGroups(stream),
      CancelTask: (call, callback) => {
        const task = this.running.get(call.request.task_id);
        task?.controller.abort();
        callback(null, { cancelled: task !== undefined });
      },
      ...(options.receivers?.({ inSlot: (what, work) => this.inSlot(what, work) }) ?? refusedReceiverCalls(options.job)),
    };
    this.server.addService(loadServices().Executor.service, this.handlers);
    this.health.addToServer(this.server);
  }

  get runningTasks(): number {
    return this.running.size;
  }

  /** Binds and returns the port (the configured one, or the one the OS chose for port 0). */
  async listen(): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(`${this.options.host}:${this.options.port}`, this.security.serverCredentials(), (e, port) =>
        e ? reject(e) : resolve(port)
      )
    );
  }

  /**
   * Graceful shutdown, first half: refuses new tasks from now on and waits for the running ones to
   * finish, at most `timeoutMs` (or until `stop` aborts). The tasks still running then are handed
   * back: aborted, and their calls answered at once with a retriable `SLUICE_EXECUTOR_LOST`, so the
   * driver retries them elsewhere (exactly-once holds: a commit applies only where the stored offset
   * is, so whatever an aborted task committed before stopping is not redone).
   */
  async drain(timeoutMs: number, stop?: AbortSignal): Promise<{ finished: number; handedBack: number }> {
    this.draining = true;
    this.health.setStatus('', 'NOT_SERVING');
    const atStart = this.running.size;
    const deadline = this.clock.now() + timeoutMs;
    while (this.running.size > 0 && this.clock.now() < deadline && !stop?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, deadline - this.clock.now());
        const done = (): void => {
          this.clock.clearTimeout(timer);
          stop?.removeEventListener('abort', done);
          resolve();
        };
        stop?.addEventListener('abort', done);
        this.taskDone = done;
      });
      this.taskDone = undefined;
    }
    const handedBack = this.running.size;
    for (const [taskId, task] of [...this.running]) {
      task.controller.abort();
      task.handBack(
        new SluiceError('SLUICE_EXECUTOR_LOST', `executor ${this.options.executorId} is shutting down: task ${taskId} handed back`, {
          retriable: true,
        })
      );
    }
    return { finished: atStart - handedBack, handedBack };
  }

  async close(): Promise<void> {
    for (const task of this.running.values()) task.controller.abort();
    // A graceful shutdown waits for every call to end, and a TaskGroups stream ends when one side ends it.
    for (const stream of this.groupStreams) stream.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** Runs `work` in one task slot; refused while draining or when every slot is taken. */
  private async inSlot<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.draining) {
      throw new SluiceError('SLUICE_EXECUTOR_LOST', `executor ${this.options.executorId} is shutting down: task ${what} refused`, {
        retriable: true,
      });
    }
    if (this.slotsInUse >= this.options.slots) {
      throw new SluiceError('SLUICE_RPC', `executor ${this.options.executorId} is running ${this.slotsInUse} tasks, its limit`, {
        retriable: true,
      });
    }
    this.slotsInUse++;
    try {
      return await work();
    } finally {
      this.slotsInUse--;
    }
  }

  /**
   * The TaskGroups stream: each call runs in a slot, as a RunTask call does, and is answered with its
   * call_id. A call's timeout, and the stream closing (the driver gone or giving up on this
   * executor), stop the groups still running, as a unary call's deadline and cancellation would.
   */
  private serveTaskGroups(stream: grpc.ServerDuplexStream<WireTaskGroupCall, WireTaskGroupAnswer>): void {
    const running = new Set<AbortController>();
    let open = true;
    this.groupStreams.add(stream);
    const close = (): void => {
      open = false;
      this.groupStreams.delete(stream);
      for (const controller of running) controller.abort();
    };
    stream.on('cancelled', close);
    stream.on('error', close);
    stream.on('end', () => {
      close();
      stream.end();
    });
    stream.on('data', (call: WireTaskGroupCall) => {
      const controller = new AbortController();
      running.add(controller);
      const timer = call.timeout_ms > 0 ? this.clock.setTimeout(() => controller.abort(), call.timeout_ms) : undefined;
      const tasks = Array.isArray(call.tasks) ? call.tasks : [];
      const name = `group of ${tasks.length} starting with ${tasks[0]?.task_id ?? 'nothing'}`;
      const answer = (fields: Omit<WireTaskGroupAnswer, 'call_id'>): void => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        running.delete(controller);
        if (open) stream.write({ call_id: call.call_id, ...fields });
      };
      this.inSlot(name, () => this.runGroup(tasks, controller)).then(
        (items) => answer({ items, error_code: '', error_message: '', retriable: false }),
        (e: unknown) => answer({ items: [], ...toWireFailure(e) })
      );
    });
  }

  /**
   * The tasks of a group side by side, after one read of all their ranges together; a range that
   * read left out is read by its task as usual. Each task succeeds or fails on its own.
   */
  private async runGroup(requests: WireTaskRequest[], controller: AbortController): Promise<WireTaskGroupItem[]> {
    const tasks = await Promise.all(requests.map((request) => this.validate(request)));
    const prefetched = await this.runner.readAll(tasks, controller.signal);
    return Promise.all(
      tasks.map(async (task) => {
        try {
          const result = await this.runTask({ ...task, prefetched: prefetched.get(partitionKey(task.range)) }, controller);
          return { result, error_code: '', error_message: '', retriable: false };
        } catch (e) {
          return { result: null, ...toWireFailure(e) };
        }
      })
    );
  }

  private async runTask(task: Task, controller: AbortController): Promise<WireTaskResult> {
    let handBack!: (error: SluiceError) => void;
    const handedBack = new Promise<never>((_, reject) => (handBack = reject));
    const entry: RunningTask = { controller, handBack };
    this.running.set(task.taskId, entry);
    const stopTimer = this.metrics?.taskDuration.startTimer();
    try {
      // A handed-back task answers now; its runner stops at its next chunk (or dies with the process).
      const report = await Promise.race([this.runner.run(task, controller.signal), handedBack]);
      stopTimer?.({ status: report.status.toLowerCase() });
      this.metrics?.tasks.inc({ outcome: report.status.toLowerCase() });
      this.logger.debug(
        {
          task: task.taskId,
          batch: task.batchId,
          topic: task.range.topic,
          partition: task.range.partition,
          status: report.status,
          records: report.records,
        },
        'task finished'
      );
      return toWireResult(report, this.options.executorId);
    } catch (e) {
      stopTimer?.({ status: 'failed' });
      this.metrics?.tasks.inc({ outcome: 'failed' });
      this.logger.warn(
        { task: task.taskId, batch: task.batchId, topic: task.range.topic, partition: task.range.partition, err: (e as Error).message },
        'task failed'
      );
      throw e;
    } finally {
      // A replayed batch reuses task ids: only remove our own entry, not a newer attempt's.
      if (this.running.get(task.taskId) === entry) this.running.delete(task.taskId);
      this.taskDone?.();
    }
  }

  /**
   * Input from the network is checked before anything is read or committed: a malformed request,
   * a range outside the job's subscription, an epoch the job never had, or a range outside the
   * stored plan of its batch is refused (the commit scripts refuse stale epochs and commits outside
   * the plan on their own).
   */
  private async validate(request: WireTaskRequest): Promise<Task> {
    const invalid = (why: string): SluiceError =>
      new InvalidRequestError(`task ${String(request.task_id).slice(0, 200)}: ${why}`, { job: this.options.job });
    if (typeof request.task_id !== 'string' || request.task_id === '' || request.task_id.length > 512) {
      throw invalid('task_id must be 1 to 512 characters');
    }
    if (request.job !== this.options.job) throw invalid(`job '${request.job}' is not this executor's job '${this.options.job}'`);
    const range = request.range;
    if (!range) throw invalid('no range');
    if (!topicPattern.test(range.topic)) throw invalid(`'${range.topic.slice(0, 300)}' is not a valid topic name`);
    if (!Number.isInteger(range.partition) || range.partition < 0) throw invalid(`partition ${range.partition} is negative`);
    for (const [name, value] of [
      ['from_offset', range.from_offset],
      ['until_offset', range.until_offset],
      ['epoch', request.epoch],
      ['batch_id', request.batch_id],
    ] as const) {
      if (!int64Pattern.test(String(value))) throw invalid(`${name} '${String(value).slice(0, 40)}' is not an integer`);
    }
    const from = BigInt(range.from_offset);
    const until = BigInt(range.until_offset);
    if (from < 0n || from > until) throw invalid(`invalid range [${from}, ${until})`);
    const tp = `${range.topic}-${range.partition}`;
    if (this.options.subscription && !subscriptionCovers(this.options.subscription, range.topic, range.partition)) {
      throw invalid(`range ${tp} [${from}, ${until}) is not in the subscription of job '${this.options.job}'`);
    }
    const epoch = BigInt(request.epoch);
    if (epoch < 1n) throw invalid(`epoch ${epoch} is not a driver epoch`);
    if (this.options.currentEpoch && epoch > this.knownEpoch) {
      const current = BigInt((await this.options.currentEpoch()) ?? '0');
      if (current > this.knownEpoch) this.knownEpoch = current;
      if (epoch > current) {
        throw new SluiceError(
          'SLUICE_FENCED',
          `task ${request.task_id}: epoch ${epoch} is from the future (job '${this.options.job}' is at epoch ${current}); refused`,
          { details: { callerEpoch: epoch.toString(), currentEpoch: current.toString() } }
        );
      }
    }
    const task: Task = {
      taskId: request.task_id,
      batchId: Number(request.batch_id),
      epoch: request.epoch,
      attempt: request.attempt,
      failures: request.failures,
      range: { topic: range.topic, partition: range.partition, fromOffset: from, untilOffset: until },
      mayStage: request.may_stage,
    };
    await this.options.checkInPlan?.(task.batchId, task.range).catch((e: unknown) => {
      throw asRedisOutage(e);
    });
    return task;
  }
}
