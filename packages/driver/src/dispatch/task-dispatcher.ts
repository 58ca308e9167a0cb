// Over 400 lines as one class: single tasks, task groups and speculative copies share the attempt loop,
// the executor choice and each task's attempt state (the retry rules are retry-policy.ts).
import type * as grpc from '@grpc/grpc-js';
import {
  abortableWait,
  fromServiceError,
  fromWireFailure,
  isPeerUnreachable,
  partitionKey,
  SluiceError,
  TaskFailedError,
  type BatchPlan,
  type Logger,
  type OffsetRange,
  type WireTaskGroupItem,
  type WireTaskRequest,
  type WireTaskResult,
} from '@sluice/common';
import type { StickyAssignment } from '../planning/assignment';
import type { ExecutorHandle, ExecutorRegistry } from './registry';
import { RetryPolicy, type RetrySettings } from './retry-policy';
import type { SpeculationMonitor } from './speculation';
import { executorRemoved } from './task-group-stream';

/** One attempt of a task that ran alongside another (a speculative copy and the task it copied). */
export interface TaskCopy {
  executor: string;
  attempt: number;
  speculative: boolean;
  /** `won`: its result is the task's; `lost`: cancelled or finished second, changing nothing. */
  outcome: 'won' | 'lost';
}

export interface TaskOutcome {
  range: OffsetRange;
  executor: string;
  attempt: number;
  result: WireTaskResult;
  /** The winning attempt was a speculative copy. */
  speculative?: boolean;
  /** Both attempts, when a speculative copy ran. */
  copies?: TaskCopy[];
}

/** Hooks for metrics and the live view of a batch. */
export interface DispatchObserver {
  taskFinished?(outcome: TaskOutcome): void;
  /** An attempt failed and another one follows. */
  taskRetried?(range: OffsetRange): void;
  /** A speculative copy of a straggler was started. */
  taskSpeculated?(range: OffsetRange): void;
  /** Small ranges went to an executor in one call. */
  taskGroupSent?(ranges: number): void;
  /** An attempt failed because Kafka or Redis could not be reached (it is retried once they answer). */
  dependencyDown?(error: SluiceError): void;
}

export interface DispatchSettings extends RetrySettings {
  job: string;
  taskTimeoutMs: number;
  executorWaitMs: number;
  /** Offsets per task group at most (see {@link TaskDispatcher.runSmall}). */
  taskGroupRecords: number;
  /**
   * The driver's stop request. Once it aborted, a task finding no executor alive does not wait for
   * one: it fails with SLUICE_NO_EXECUTORS (`stopping: true`), and its batch stays planned.
   */
  stop?: AbortSignal;
}

export interface RunOptions {
  /**
   * For a range split into pieces: the piece's index (0 = first) among the pieces of its
   * partition; later pieces may stage their output, and are placed apart from the first.
   */
  piece?: number;
  /** The batch's straggler watch, when speculation is on. */
  speculation?: SpeculationMonitor;
  /** The number of the first attempt: 1 when an attempt was already made (in a task group). */
  firstAttempt?: number;
  /** Failures of the task's own account so far (see {@link RetryPolicy}). */
  failures?: number;
}

/** What the attempts of one task share: the attempt counter, the running ones, and the stop signal once one won. */
interface TaskRun {
  plan: BatchPlan;
  range: OffsetRange;
  piece: number;
  nextAttempt: number;
  /** Attempts that failed on the task's own account (what maxTaskFailures and the poison policy count). */
  failures: number;
  running: Map<number, { executor: string; speculative: boolean }>;
  finished: AbortController;
}

/**
 * Sends one task per range and sees it through: a failed, timed-out or lost attempt is retried on
 * another executor (when there is one) with backoff; {@link RetryPolicy} decides which failures
 * count against `maxTaskFailures` and how long to wait. With speculation, a straggler gets a copy on another executor and the first to
 * finish wins. All of it is safe because a task is idempotent: its commit applies only where the
 * stored offset still is, so a late, duplicate or losing attempt changes nothing.
 */
export class TaskDispatcher {
  private readonly retry: RetryPolicy;

  constructor(
    private readonly registry: ExecutorRegistry,
    private readonly assignment: StickyAssignment,
    private readonly settings: DispatchSettings,
    private readonly logger: Logger,
    private readonly observer: DispatchObserver = {}
  ) {
    this.retry = new RetryPolicy(settings);
  }

  /** Sees the task for `range` through: its attempts, and a speculative copy when it straggles. */
  async run(plan: BatchPlan, range: OffsetRange, options: RunOptions = {}): Promise<TaskOutcome> {
    const { speculation } = options;
    const run: TaskRun = {
      plan,
      range,
      piece: options.piece ?? 0,
      nextAttempt: options.firstAttempt ?? 0,
      failures: options.failures ?? 0,
      running: new Map(),
      finished: new AbortController(),
    };
    const original = this.attempts(run);
    if (!speculation) return original;
    let finish: (succeeded: boolean) => void = () => undefined;
    const outcome = new Promise<TaskOutcome>((resolve, reject) => {
      let originalError: Error | undefined;
      let copy: 'none' | 'running' | 'failed' = 'none';
      original.then(resolve, (e: Error) => {
        originalError = e;
        if (copy !== 'running') reject(e);
      });
      finish = speculation.track({
        speculate: () => {
          const started = this.speculate(run);
          if (!started) return false;
          copy = 'running';
          started.then(resolve, () => {
            copy = 'failed';
            if (originalError !== undefined) reject(originalError);
          });
          return true;
        },
      });
    });
    try {
      const winner = await outcome;
      finish(true);
      return this.withCopies(run, winner);
    } catch (e) {
      finish(false);
      throw e;
    } finally {
      run.finished.abort();
    }
  }

  /**
   * Small ranges (see `driver.taskGroupRecords`): those bound for the same executor go in one
   * task group (one per `taskGroupRecords` offsets, on the executor's TaskGroups stream), so their records come in one Fetch per
   * broker and a batch of many small ranges costs a few calls, not one per partition. The first
   * attempt of each range is made there; a range that fails, or all of them when the call fails,
   * goes on as a task of its own with the usual retries (from attempt 1).
   */
  async runSmall(plan: BatchPlan, ranges: OffsetRange[]): Promise<TaskOutcome[]> {
    const alive = this.registry.alive();
    if (ranges.length < 2 || alive.length === 0) return Promise.all(ranges.map((range) => this.run(plan, range)));
    const aliveIds = alive.map((e) => e.id);
    const byId = new Map(alive.map((e) => [e.id, e]));
    const byExecutor = new Map<ExecutorHandle, OffsetRange[]>();
    for (const range of ranges) {
      const executor = byId.get(this.assignment.pick(partitionKey(range), aliveIds) as string) as ExecutorHandle;
      if (byExecutor.has(executor)) byExecutor.get(executor)?.push(range);
      else byExecutor.set(executor, [range]);
    }
    const groups: Array<{ executor: ExecutorHandle; ranges: OffsetRange[] }> = [];
    for (const [executor, bound] of byExecutor) {
      // One call per executor, more when that would exceed taskGroupRecords offsets per call (memory).
      // Not one per slot: every call is a gRPC round trip, a Fetch and a commit script call more,
      // which at one record per partition cost more than running the ranges side by side saves.
      const offsets = bound.reduce((sum, r) => sum + Number(r.untilOffset - r.fromOffset), 0);
      const n = Math.min(bound.length, Math.max(1, Math.ceil(offsets / this.settings.taskGroupRecords)));
      for (let i = 0; i < n; i++) groups.push({ executor, ranges: bound.filter((_, j) => j % n === i) });
    }
    return (await Promise.all(groups.map((g) => this.runGroup(plan, g.executor, g.ranges)))).flat();
  }

  private async runGroup(plan: BatchPlan, executor: ExecutorHandle, ranges: OffsetRange[]): Promise<TaskOutcome[]> {
    const requests = ranges.map((range) => this.request(plan, range, 0, 0));
    let items: WireTaskGroupItem[] = [];
    await executor.acquire();
    this.observer.taskGroupSent?.(ranges.length);
    try {
      // An executor removed while the group waited for its slot has its stream closed: as good as unreachable.
      items = await executor.groups.call(requests, this.settings.taskTimeoutMs);
    } catch (e) {
      const error = e as SluiceError;
      if (isPeerUnreachable(error)) this.registry.remove(executor.id, 'unreachable');
      this.logger.warn(
        { batch: plan.id, executor: executor.id, tasks: ranges.length, err: error.message },
        'task group failed; its tasks are retried one by one'
      );
    } finally {
      executor.release();
    }
    return Promise.all(
      ranges.map(async (range, i) => {
        const item = items[i];
        if (item?.result) {
          executor.finishedTasks++;
          const outcome: TaskOutcome = { range, executor: executor.id, attempt: 0, result: item.result };
          this.observer.taskFinished?.(outcome);
          return outcome;
        }
        executor.failedTasks++;
        if (item) {
          this.logger.warn(
            { batch: plan.id, topic: range.topic, partition: range.partition, executor: executor.id, attempt: 0, err: item.error_message },
            'task attempt failed'
          );
        }
        // The group's attempt was the first; a failed call (no item) counts as a lost executor.
        const error = item && fromWireFailure(item);
        const kind = error && this.retry.classify(error);
        if (error && kind === 'fenced') throw error;
        const counted = kind === 'task';
        if (error && counted && this.retry.givesUp(error, 1)) throw taskFailed(plan, range, 1, error);
        this.observer.taskRetried?.(range);
        return this.run(plan, range, { firstAttempt: 1, failures: counted ? 1 : 0 });
      })
    );
  }

  /** The attempts of a task until one succeeds or `maxTaskFailures` of them failed. */
  private async attempts(run: TaskRun): Promise<TaskOutcome> {
    const { plan, range, piece } = run;
    const excluded = new Set<string>();
    // Executors that refused the task because they are shutting down: not asked again.
    const refused = new Set<ExecutorHandle>();
    let outages = 0;
    let lastError: SluiceError | undefined;
    const placement = piece === 0 ? partitionKey(range) : `${partitionKey(range)}#${piece}`;
    for (;;) {
      const executor = await this.pickExecutor(placement, excluded, refused);
      try {
        return await this.attempt(run, executor, false);
      } catch (e) {
        lastError = e as SluiceError;
        const kind = this.retry.classify(lastError);
        if (run.finished.signal.aborted || kind === 'fenced') throw lastError;
        if (isPeerUnreachable(lastError)) this.registry.remove(executor.id, 'unreachable');
        if (lastError.code === 'SLUICE_EXECUTOR_LOST') refused.add(executor);
        if (kind === 'outage') this.observer.dependencyDown?.(lastError);
        if (kind === 'task') run.failures++;
        if (this.retry.givesUp(lastError, run.failures)) break;
        // An outage is not the executor's fault: the next attempt may as well go to the same one.
        if (kind !== 'outage') excluded.add(executor.id);
        this.observer.taskRetried?.(range);
        const backoff = this.retry.backoffMs(kind, run.failures, outages);
        if (kind === 'outage') outages++;
        await abortableWait(backoff, run.finished.signal);
        if (run.finished.signal.aborted) throw lastError;
      }
    }
    throw taskFailed(plan, range, run.failures, lastError);
  }

  /** Starts one speculative attempt on another executor; undefined when no other executor is alive. */
  private speculate(run: TaskRun): Promise<TaskOutcome> | undefined {
    const busy = new Set([...run.running.values()].map((a) => a.executor));
    const other = this.registry
      .alive()
      .filter((e) => !busy.has(e.id))
      .sort((a, b) => a.running / a.slots - b.running / b.slots)[0];
    if (!other) return undefined;
    this.observer.taskSpeculated?.(run.range);
    this.logger.info(
      { batch: run.plan.id, topic: run.range.topic, partition: run.range.partition, executor: other.id },
      'speculating a straggler: a copy runs on another executor'
    );
    return this.attempt(run, other, true);
  }

  private async attempt(run: TaskRun, executor: ExecutorHandle, speculative: boolean): Promise<TaskOutcome> {
    const { plan, range, piece } = run;
    const attempt = run.nextAttempt++;
    const request = this.request(plan, range, attempt, run.failures, piece);
    await executor.acquire();
    run.running.set(attempt, { executor: executor.id, speculative });
    try {
      const result = await this.call(executor, request, run.finished.signal);
      executor.finishedTasks++;
      const outcome: TaskOutcome = { range, executor: executor.id, attempt, result };
      if (speculative) outcome.speculative = true;
      this.observer.taskFinished?.(outcome);
      return outcome;
    } catch (e) {
      executor.failedTasks++;
      run.running.delete(attempt);
      const error = e as SluiceError;
      if (!run.finished.signal.aborted) {
        this.logger.warn(
          {
            batch: plan.id,
            topic: range.topic,
            partition: range.partition,
            executor: executor.id,
            attempt,
            speculative,
            err: error.message,
          },
          'task attempt failed'
        );
      }
      throw error;
    } finally {
      executor.release();
    }
  }

  private request(plan: BatchPlan, range: OffsetRange, attempt: number, failures: number, piece = 0): WireTaskRequest {
    return {
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
      failures,
    };
  }

  /** Adds both attempts (those that did not fail) to the winner's outcome when a speculative copy ran. */
  private withCopies(run: TaskRun, winner: TaskOutcome): TaskOutcome {
    if (![...run.running.values()].some((a) => a.speculative)) return winner;
    const copies: TaskCopy[] = [...run.running].map(([attempt, a]) => ({
      executor: a.executor,
      attempt,
      speculative: a.speculative,
      outcome: attempt === winner.attempt ? 'won' : 'lost',
    }));
    return { ...winner, copies };
  }

  /**
   * @param placementKey `topic:partition`, or `topic:partition#k` for piece k of a split range.
   * @param refused executors never to pick (shutting down); with none other alive this waits for
   *   one to register, up to `executorWaitMs`.
   */
  private async pickExecutor(
    placementKey: string,
    excluded: ReadonlySet<string>,
    refused: ReadonlySet<ExecutorHandle>
  ): Promise<ExecutorHandle> {
    const deadline = Date.now() + this.settings.executorWaitMs;
    for (;;) {
      const alive = this.registry
        .alive()
        .filter((e) => !refused.has(e))
        .map((e) => e.id);
      const id = this.assignment.pick(placementKey, alive, excluded);
      const handle = id === undefined ? undefined : this.registry.get(id);
      if (handle) return handle;
      // Stopping beside its executors (as on `helm uninstall`): the next driver replays the batch.
      if (this.settings.stop?.aborted) {
        throw new SluiceError('SLUICE_NO_EXECUTORS', `the driver is stopping and no executor is left to run ${placementKey}`, {
          details: { stopping: true },
        });
      }
      await this.registry.waitForChange(deadline - Date.now(), this.settings.stop);
    }
  }

  /**
   * One RunTask call; `cancelled` (another attempt won) cancels it, and the executor stops the task.
   * A failed call asks the executor to cancel the task (a timed-out attempt may still be running;
   * best effort, since its commits are fenced by the offset anyway).
   */
  private call(executor: ExecutorHandle, request: WireTaskRequest, cancelled: AbortSignal): Promise<WireTaskResult> {
    const what = `task ${request.task_id} on executor ${executor.id}`;
    if (this.registry.get(executor.id) !== executor) {
      // Removed while this task waited for one of its slots: as good as unreachable.
      return Promise.reject(fromServiceError(executorRemoved(), what));
    }
    const { client } = executor;
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.settings.taskTimeoutMs);
      const onResult = (error: grpc.ServiceError | null, result?: WireTaskResult): void => {
        cancelled.removeEventListener('abort', cancel);
        if (!error && result) return resolve(result);
        try {
          client.CancelTask({ task_id: request.task_id }, { deadline: new Date(Date.now() + 1000) }, () => undefined);
        } catch {
          // The channel is closed: the executor is gone, nothing to cancel.
        }
        return reject(fromServiceError(error as grpc.ServiceError, what));
      };
      let call: grpc.ClientUnaryCall | undefined;
      const cancel = (): void => call?.cancel();
      try {
        call = client.RunTask(request, { deadline }, onResult);
        cancelled.addEventListener('abort', cancel, { once: true });
      } catch {
        // grpc-js throws synchronously on a channel closed by the executor's removal.
        onResult(executorRemoved());
      }
    });
  }
}

/** A task out of attempts: the batch stays planned, and a restarted driver replays it. */
function taskFailed(plan: BatchPlan, range: OffsetRange, failures: number, lastError: SluiceError): TaskFailedError {
  return new TaskFailedError(
    `batch ${plan.id}: task for ${range.topic}-${range.partition} [${range.fromOffset}, ${range.untilOffset}) failed ` +
      `after ${failures} failed attempt(s): ${lastError.message}`,
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
