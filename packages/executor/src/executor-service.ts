import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import {
  channelOptions,
  isSluiceError,
  loadServices,
  partitionKey,
  SluiceError,
  toServiceError,
  type Logger,
  type WireTaskGroupItem,
  type WireTaskRequest,
  type WireTaskResult,
} from '@sluice/common';
import type { ExecutorMetrics } from './metrics';
import type { Task, TaskRunner } from './task-runner';

export interface ExecutorServiceOptions {
  executorId: string;
  job: string;
  host: string;
  port: number;
  slots: number;
}

/** A task being run: its cancellation, and how to answer its call early when it is handed back. */
interface RunningTask {
  controller: AbortController;
  handBack(error: SluiceError): void;
}

/**
 * The gRPC Executor service (RunTask, CancelTask) and the standard gRPC health service. Tasks beyond
 * `slots` are refused with RESOURCE_EXHAUSTED: the driver respects slots, so this only guards
 * against a confused or hostile peer. While draining (graceful shutdown) every new task is refused
 * with UNAVAILABLE (`SLUICE_EXECUTOR_LOST`, retriable), so the driver sends it to another executor.
 */
export class ExecutorService {
  readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly server = new grpc.Server(channelOptions);
  private readonly running = new Map<string, RunningTask>();
  private draining = false;
  /** RunTask and RunTaskGroup calls being served: each takes one of `slots`. */
  private slotsInUse = 0;
  /** Resolves whenever a task leaves `running` (the drain waits on it). */
  private taskDone: (() => void) | undefined;

  constructor(
    private readonly runner: TaskRunner,
    private readonly options: ExecutorServiceOptions,
    private readonly logger: Logger,
    private readonly metrics?: ExecutorMetrics
  ) {
    this.server.addService(loadServices().Executor.service, {
      RunTask: (call: grpc.ServerUnaryCall<WireTaskRequest, WireTaskResult>, callback: grpc.sendUnaryData<WireTaskResult>) => {
        const controller = new AbortController();
        // The driver gave up on this attempt (deadline, cancel, gone): stop reading, free the slot.
        call.on('cancelled', () => controller.abort());
        this.inSlot(call.request.task_id, () => this.runTask(call.request, controller)).then(
          (result) => callback(null, result),
          (e: unknown) => callback(toServiceError(e))
        );
      },
      RunTaskGroup: (
        call: grpc.ServerUnaryCall<{ tasks: WireTaskRequest[] }, { items: WireTaskGroupItem[] }>,
        callback: grpc.sendUnaryData<{ items: WireTaskGroupItem[] }>
      ) => {
        const controller = new AbortController();
        call.on('cancelled', () => controller.abort());
        const name = `group of ${call.request.tasks.length} starting with ${call.request.tasks[0]?.task_id ?? 'nothing'}`;
        this.inSlot(name, () => this.runGroup(call.request.tasks, controller)).then(
          (items) => callback(null, { items }),
          (e: unknown) => callback(toServiceError(e))
        );
      },
      CancelTask: (
        call: grpc.ServerUnaryCall<{ task_id: string }, { cancelled: boolean }>,
        callback: grpc.sendUnaryData<{ cancelled: boolean }>
      ) => {
        const task = this.running.get(call.request.task_id);
        task?.controller.abort();
        callback(null, { cancelled: task !== undefined });
      },
    });
    this.health.addToServer(this.server);
  }

  get runningTasks(): number {
    return this.running.size;
  }

  /** Binds and returns the port (the configured one, or the one the OS chose for port 0). */
  async listen(): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(`${this.options.host}:${this.options.port}`, grpc.ServerCredentials.createInsecure(), (e, port) =>
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
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < deadline && !stop?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        const done = (): void => {
          clearTimeout(timer);
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
   * The tasks of a group side by side, after one read of all their ranges together; a range that
   * read left out is read by its task as usual. Each task succeeds or fails on its own.
   */
  private async runGroup(requests: WireTaskRequest[], controller: AbortController): Promise<WireTaskGroupItem[]> {
    const tasks = requests.map((request) => this.validate(request));
    const prefetched = await this.runner.readAll(tasks, controller.signal);
    return Promise.all(
      tasks.map(async (task) => {
        try {
          const result = await this.runTask({ ...task, prefetched: prefetched.get(partitionKey(task.range)) }, controller);
          return { result, error_code: '', error_message: '', retriable: false };
        } catch (e) {
          const error = isSluiceError(e) ? e : new SluiceError('SLUICE_TASK_FAILED', (e as Error).message, { retriable: true, cause: e });
          return { result: null, error_code: error.code, error_message: error.message, retriable: error.retriable };
        }
      })
    );
  }

  private async runTask(request: WireTaskRequest | Task, controller: AbortController): Promise<WireTaskResult> {
    const task = 'task_id' in request ? this.validate(request) : request;
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
      this.metrics?.records.inc(report.records);
      this.metrics?.bytes.inc(report.bytes);
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
      return {
        status: report.status,
        executor_id: this.options.executorId,
        records: String(report.records),
        bytes: String(report.bytes),
        fetch_ms: report.fetchMs,
        process_ms: report.processMs,
        commit_ms: report.commitMs,
        total_ms: report.totalMs,
        chunks: report.chunks,
      };
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

  private validate(request: WireTaskRequest): Task {
    const invalid = (why: string): SluiceError => new SluiceError('SLUICE_CONFIG_INVALID', `task ${request.task_id}: ${why}`);
    if (request.job !== this.options.job) throw invalid(`job '${request.job}' is not this executor's job '${this.options.job}'`);
    if (!request.range) throw invalid('no range');
    const from = BigInt(request.range.from_offset);
    const until = BigInt(request.range.until_offset);
    if (from < 0n || from > until) throw invalid(`invalid range [${from}, ${until})`);
    return {
      taskId: request.task_id,
      batchId: Number(request.batch_id),
      epoch: request.epoch,
      attempt: request.attempt,
      range: { topic: request.range.topic, partition: request.range.partition, fromOffset: from, untilOffset: until },
      mayStage: request.may_stage,
    };
  }
}
