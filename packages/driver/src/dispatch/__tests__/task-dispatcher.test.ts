import {
  createLogger,
  type ExecutorClient,
  isSluiceError,
  type BatchPlan,
  type SluiceError,
  type WireTaskGroupItem,
  type WireTaskRequest,
  type WireTaskResult,
} from '@sluice/common';
import { StickyAssignment } from '../../planning/assignment';
import type { ExecutorHandle, ExecutorRegistry } from '../registry';
import { TaskDispatcher, type DispatchSettings } from '../task-dispatcher';
import type { TaskGroupStream } from '../task-group-stream';

/** How the first attempt of a range, made in a task group, decides what follows when it fails. */

const result = (records: number): WireTaskResult => ({
  status: 'COMMITTED',
  executor_id: 'e1',
  records: String(records),
  bytes: '0',
  fetch_ms: 0,
  process_ms: 0,
  commit_ms: 0,
  total_ms: 0,
  chunks: 1,
});
const ok: WireTaskGroupItem = { result: result(1), error_code: '', error_message: '', retriable: false };
const failed = (code: string, retriable: boolean): WireTaskGroupItem => ({
  result: null,
  error_code: code,
  error_message: `[${code}] went wrong`,
  retriable,
});

const plan: BatchPlan = {
  id: 7,
  epoch: '3',
  time: 0,
  ranges: [0, 1].map((partition) => ({ topic: 't', partition, fromOffset: 0n, untilOffset: 1n })),
};

/** One executor whose group answers `items`; RunTask calls (the retries one by one) are recorded and succeed. */
function setUp(
  items: WireTaskGroupItem[],
  maxTaskFailures: number,
  stop?: AbortController
): { dispatcher: TaskDispatcher; retried: WireTaskRequest[] } {
  const retried: WireTaskRequest[] = [];
  const executor: ExecutorHandle = {
    id: 'e1',
    address: '127.0.0.1:1',
    slots: 4,
    client: {
      RunTask: (request: WireTaskRequest, _options: unknown, callback: (e: null, r: WireTaskResult) => void) => {
        retried.push(request);
        callback(null, result(1));
        return { cancel: () => undefined };
      },
      CancelTask: () => undefined,
    } as unknown as ExecutorClient,
    groups: {
      call: () => {
        // The driver is asked to stop while the group runs (its executor is going too).
        stop?.abort();
        return Promise.resolve(items);
      },
    } as unknown as TaskGroupStream,
    lastHeartbeat: Date.now(),
    running: 0,
    finishedTasks: 0,
    failedTasks: 0,
    acquire: () => Promise.resolve(),
    release: () => undefined,
    retire: () => undefined,
    close: () => undefined,
  };
  // Once stopping, the executor has deregistered (it was shutting down beside the driver).
  const registry = {
    alive: () => (stop?.signal.aborted ? [] : [executor]),
    get: (id: string) => (id === 'e1' ? executor : undefined),
    remove: () => undefined,
    waitForChange: () => (stop ? Promise.reject(new Error('waited for an executor while stopping')) : Promise.resolve()),
  } as unknown as ExecutorRegistry;
  const settings: DispatchSettings = {
    job: 'j',
    taskTimeoutMs: 5000,
    maxTaskFailures,
    retryBackoffMs: 1,
    executorWaitMs: 1000,
    taskGroupRecords: 10_000,
    stop: stop?.signal,
  };
  return { dispatcher: new TaskDispatcher(registry, new StickyAssignment(), settings, createLogger('silent')), retried };
}

const failure = (promise: Promise<unknown>): Promise<SluiceError> =>
  promise.then(
    () => {
      throw new Error('expected the batch to fail');
    },
    (e: unknown) => {
      if (!isSluiceError(e)) throw e;
      return e;
    }
  );

describe('TaskDispatcher: a range that failed in its task group', () => {
  it('is retried on its own when the failure is retriable and attempts are left', async () => {
    const { dispatcher, retried } = setUp([ok, failed('SLUICE_TASK_FAILED', true)], 4);
    const outcomes = await dispatcher.runSmall(plan, plan.ranges);
    expect(outcomes.map((o) => [o.range.partition, o.attempt])).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(retried.map((r) => [r.range?.partition, r.attempt, r.failures])).toEqual([[1, 1, 1]]);
  });

  it('fails the batch at once when the failure is not retriable', async () => {
    const { dispatcher, retried } = setUp([ok, failed('SLUICE_INVALID_REQUEST', false)], 4);
    const error = await failure(dispatcher.runSmall(plan, plan.ranges));
    expect(error.code).toBe('SLUICE_TASK_FAILED');
    expect(error.message).toBe(
      '[SLUICE_TASK_FAILED] batch 7: task for t-1 [0, 1) failed after 1 failed attempt(s): [SLUICE_INVALID_REQUEST] went wrong'
    );
    expect(retried).toEqual([]);
  });

  it('fails the batch at once when maxTaskFailures is 1 (the group attempt was the one)', async () => {
    const { dispatcher, retried } = setUp([ok, failed('SLUICE_TASK_FAILED', true)], 1);
    expect((await failure(dispatcher.runSmall(plan, plan.ranges))).code).toBe('SLUICE_TASK_FAILED');
    expect(retried).toEqual([]);
  });

  it('fails the batch with the fencing itself when the epoch is fenced (the driver reports its lease lost)', async () => {
    const { dispatcher, retried } = setUp([failed('SLUICE_FENCED', false), failed('SLUICE_FENCED', false)], 4);
    expect((await failure(dispatcher.runSmall(plan, plan.ranges))).code).toBe('SLUICE_FENCED');
    expect(retried).toEqual([]);
  });

  it('does not count an attempt lost with its executor', async () => {
    const { dispatcher, retried } = setUp([ok, failed('SLUICE_EXECUTOR_LOST', true)], 1);
    const outcomes = await dispatcher.runSmall(plan, plan.ranges);
    expect(outcomes.map((o) => o.attempt)).toEqual([0, 1]);
    expect(retried.map((r) => r.failures)).toEqual([0]);
  });

  it('once the driver is stopping, ends a task its executor refused without waiting for another (the batch stays planned)', async () => {
    const stop = new AbortController();
    const { dispatcher, retried } = setUp([ok, failed('SLUICE_EXECUTOR_LOST', true)], 4, stop);
    const error = await failure(dispatcher.runSmall(plan, plan.ranges));
    expect([error.code, error.details, error.message]).toEqual([
      'SLUICE_NO_EXECUTORS',
      { stopping: true },
      '[SLUICE_NO_EXECUTORS] the driver is stopping and no executor is left to run t:1',
    ]);
    expect(retried).toEqual([]);
  });
});
