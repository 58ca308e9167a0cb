import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import {
  fromServiceError,
  isPeerUnreachable,
  partitionKey,
  TaskFailedError,
  type BatchPlan,
  type Logger,
  type OffsetRange,
  type SluiceError,
  type WireTaskRequest,
  type WireTaskResult,
} from '@sluice/common';
import type { StickyAssignment } from './assignment';
import type { ExecutorHandle, ExecutorRegistry } from './registry';

export interface TaskOutcome {
  range: OffsetRange;
  executor: string;
  attempt: number;
  result: WireTaskResult;
}

/** Hooks for metrics and the live view of a batch. */
export interface DispatchObserver {
  taskFinished?(outcome: TaskOutcome): void;
  /** An attempt failed and another one follows. */
  taskRetried?(range: OffsetRange): void;
}

export interface DispatchSettings {
  job: string;
  taskTimeoutMs: number;
  maxTaskFailures: number;
  retryBackoffMs: number;
  executorWaitMs: number;
}

type RunTask = (
  request: WireTaskRequest,
  options: grpc.CallOptions,
  callback: (e: grpc.ServiceError | null, r?: WireTaskResult) => void
) => void;
type CancelTask = (request: { task_id: string }, options: grpc.CallOptions, callback: (e: grpc.ServiceError | null) => void) => void;

/**
 * Sends one task per range and sees it through: a failed, timed-out or lost attempt is retried on
 * another executor (when there is one) with backoff, up to `maxTaskFailures` attempts in all, as
 * Spark's `spark.task.maxFailures`. Safe because a task is idempotent: its commit applies only
 * where the stored offset still is, so a late or duplicate attempt changes nothing.
 */
export class TaskDispatcher {
  constructor(
    private readonly registry: ExecutorRegistry,
    private readonly assignment: StickyAssignment,
    private readonly settings: DispatchSettings,
    private readonly logger: Logger,
    private readonly observer: DispatchObserver = {}
  ) {}

  /**
   * @param piece for a range split into pieces: the piece's index (0 = first) among the pieces of
   *   its partition; later pieces may stage their output, and are placed apart from the first.
   */
  async run(plan: BatchPlan, range: OffsetRange, piece = 0): Promise<TaskOutcome> {
    const excluded = new Set<string>();
    let lastError: SluiceError | undefined;
    for (let attempt = 0; attempt < this.settings.maxTaskFailures; attempt++) {
      if (attempt > 0) {
        this.observer.taskRetried?.(range);
        await delay(this.settings.retryBackoffMs * attempt);
      }
      const executor = await this.pickExecutor(piece === 0 ? partitionKey(range) : `${partitionKey(range)}#${piece}`, excluded);
      const request: WireTaskRequest = {
        task_id: `${plan.id}/${partitionKey(range)}@${range.fromOffset}/${attempt}`,
        job: this.settings.job,
        batch_id: String(plan.id),
        epoch: plan.epoch,
        attempt,
        range: {
          topic: range.topic,
          partition: range.partition,
          from_offset: String(range.fromOffset),
          until_offset: String(range.untilOffset),
        },
        may_stage: piece > 0,
      };
      await executor.acquire();
      try {
        const result = await this.call(executor, request);
        executor.finishedTasks++;
        const outcome = { range, executor: executor.id, attempt, result };
        this.observer.taskFinished?.(outcome);
        return outcome;
      } catch (e) {
        executor.failedTasks++;
        lastError = e as SluiceError;
        const log = {
          batch: plan.id,
          topic: range.topic,
          partition: range.partition,
          executor: executor.id,
          attempt,
          err: lastError.message,
        };
        this.logger.warn(log, 'task attempt failed');
        if (isPeerUnreachable(lastError)) this.registry.remove(executor.id, 'unreachable');
        if (!lastError.retriable) break;
        excluded.add(executor.id);
      } finally {
        executor.release();
      }
    }
    throw new TaskFailedError(
      `batch ${plan.id}: task for ${range.topic}-${range.partition} [${range.fromOffset}, ${range.untilOffset}) failed: ${lastError?.message ?? 'unknown'}`,
      {
        batchId: plan.id,
        topic: range.topic,
        partition: range.partition,
        from: String(range.fromOffset),
        until: String(range.untilOffset),
      },
      lastError
    );
  }

  /** @param placementKey `topic:partition`, or `topic:partition#k` for piece k of a split range. */
  private async pickExecutor(placementKey: string, excluded: ReadonlySet<string>): Promise<ExecutorHandle> {
    for (;;) {
      const alive = this.registry.alive().map((e) => e.id);
      const id = this.assignment.pick(placementKey, alive, excluded);
      const handle = id === undefined ? undefined : this.registry.get(id);
      if (handle) return handle;
      await this.registry.waitForExecutor(this.settings.executorWaitMs);
    }
  }

  private call(executor: ExecutorHandle, request: WireTaskRequest): Promise<WireTaskResult> {
    if (this.registry.get(executor.id) !== executor) {
      // Removed while this task waited for one of its slots: as good as unreachable.
      return Promise.reject(fromServiceError(lostExecutor(), `task ${request.task_id} on executor ${executor.id}`));
    }
    const client = executor.client as unknown as { RunTask: RunTask; CancelTask: CancelTask };
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.settings.taskTimeoutMs);
      const onResult = (error: grpc.ServiceError | null, result?: WireTaskResult): void => {
        if (!error && result) return resolve(result);
        const failure = fromServiceError(error as grpc.ServiceError, `task ${request.task_id} on executor ${executor.id}`);
        // A timed-out attempt may still be running: ask it to stop (best effort; its commit is fenced by the offset anyway).
        try {
          client.CancelTask({ task_id: request.task_id }, { deadline: new Date(Date.now() + 1000) }, () => undefined);
        } catch {
          // The channel is closed: the executor is gone, nothing to cancel.
        }
        return reject(failure);
      };
      try {
        client.RunTask(request, { deadline }, onResult);
      } catch {
        // grpc-js throws synchronously on a channel closed by the executor's removal.
        onResult(lostExecutor());
      }
    });
  }
}

function lostExecutor(): grpc.ServiceError {
  return Object.assign(new Error('executor was removed'), {
    code: grpc.status.UNAVAILABLE,
    details: 'executor was removed',
    metadata: new grpc.Metadata(),
  });
}
