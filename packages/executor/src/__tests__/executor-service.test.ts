import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { createLogger, SluiceError, type WireTaskGroupAnswer, type WireTaskGroupCall, type WireTaskRequest } from '@sluice/common';
import { ExecutorService, type Clock, type ExecutorServiceOptions } from '../executor-service';
import type { Task, TaskReport, TaskRunner } from '../task-runner';

/** Time that moves only when the test says so; due timers fire on `advance`. */
class FakeClock implements Clock {
  private time = 1_000_000;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): number {
    this.timers.set(++this.nextId, { at: this.time + ms, callback });
    return this.nextId;
  }
  clearTimeout(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  advance(ms: number): void {
    this.time += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at > this.time) continue;
      this.timers.delete(id);
      timer.callback();
    }
  }
}

const report = (records: number): TaskReport => ({
  status: 'COMMITTED',
  records,
  bytes: records * 10,
  fetchMs: 1,
  processMs: 2,
  commitMs: 3,
  totalMs: 6,
  chunks: 1,
});

/** A runner whose tasks finish when the test says so, or fail soon after their signal aborts. */
class GatedRunner {
  readonly started: Task[] = [];
  readonly signals = new Map<string, AbortSignal>();
  private readonly gates = new Map<string, { finish(records: number): void; fail(error: Error): void }>();

  run(task: Task, signal: AbortSignal): Promise<TaskReport> {
    this.started.push(task);
    this.signals.set(task.taskId, signal);
    return new Promise((resolve, reject) => {
      this.gates.set(task.taskId, { finish: (records) => resolve(report(records)), fail: reject });
      // As a real runner, it stops at its next chunk, not at once.
      const stop = (): void => void setImmediate(() => reject(new SluiceError('SLUICE_TASK_FAILED', `task ${task.taskId} stopped`)));
      signal.addEventListener('abort', stop, { once: true });
    });
  }
  readAll(): Promise<Map<string, never>> {
    return Promise.resolve(new Map<string, never>());
  }
  finish(taskId: string, records: number): void {
    this.gates.get(taskId)?.finish(records);
  }
  fail(taskId: string, error: Error): void {
    this.gates.get(taskId)?.fail(error);
  }
}

function request(taskId: string, fields: Partial<WireTaskRequest> = {}): WireTaskRequest {
  return {
    task_id: taskId,
    job: 'job1',
    batch_id: '7',
    epoch: '2',
    attempt: 0,
    range: { topic: 't', partition: 0, from_offset: '10', until_offset: '20' },
    may_stage: false,
    failures: 0,
    ...fields,
  };
}

interface Answer {
  /** sluice's code and the message, of a refused or failed call. */
  error?: string;
  records?: string;
}

/** Calls the RunTask handler as the gRPC server would, with a fake call; resolves with its answer. */
function runTask(service: ExecutorService, req: WireTaskRequest, call = new EventEmitter()): Promise<Answer> {
  return new Promise((resolve) => {
    Object.assign(call, { request: req });
    service.handlers.RunTask(call as unknown as grpc.ServerUnaryCall<WireTaskRequest, never>, (e, result) =>
      resolve(e ? { error: `${String(e.metadata?.get('sluice-code')[0])} ${e.details}` } : { records: String(result?.records) })
    );
  });
}

/** A TaskGroups stream as the server hands it to the handler: the test writes calls, reads answers. */
function openGroups(service: ExecutorService): {
  send(call: WireTaskGroupCall): void;
  answers: WireTaskGroupAnswer[];
  next(): Promise<WireTaskGroupAnswer>;
} {
  const stream = new EventEmitter();
  const answers: WireTaskGroupAnswer[] = [];
  const written = new EventEmitter();
  Object.assign(stream, {
    write: (answer: WireTaskGroupAnswer) => {
      answers.push(answer);
      written.emit('answer');
    },
    end: () => undefined,
  });
  service.handlers.TaskGroups(stream as unknown as grpc.ServerDuplexStream<WireTaskGroupCall, WireTaskGroupAnswer>);
  let read = 0;
  return {
    send: (call) => stream.emit('data', call),
    answers,
    next: () =>
      new Promise((resolve) => {
        const take = (): void => {
          if (read < answers.length) resolve(answers[read++] as WireTaskGroupAnswer);
          else written.once('answer', take);
        };
        take();
      }),
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ExecutorService', () => {
  let runner: GatedRunner;
  let clock: FakeClock;
  let service: ExecutorService;

  const start = (options: Partial<ExecutorServiceOptions> = {}): ExecutorService => {
    service = new ExecutorService(
      runner as unknown as TaskRunner,
      { executorId: 'e1', job: 'job1', host: '127.0.0.1', port: 0, slots: 2, clock, ...options },
      createLogger('silent')
    );
    return service;
  };

  beforeEach(() => {
    runner = new GatedRunner();
    clock = new FakeClock();
  });

  afterEach(async () => {
    await service.close();
  });

  describe('refuses a task before running it', () => {
    it.each<[string, Partial<WireTaskRequest>, string]>([
      ['an empty task id', { task_id: '' }, 'SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task : task_id must be 1 to 512 characters'],
      [
        'another job',
        { job: 'other' },
        "SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task a: job 'other' is not this executor's job 'job1'",
      ],
      ['no range', { range: null }, 'SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task a: no range'],
      [
        'a bad topic name',
        { range: { topic: 'a b', partition: 0, from_offset: '1', until_offset: '2' } },
        "SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task a: 'a b' is not a valid topic name",
      ],
      [
        'an offset that is no integer',
        { range: { topic: 't', partition: 0, from_offset: '1x', until_offset: '2' } },
        "SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task a: from_offset '1x' is not an integer",
      ],
      [
        'a range that ends before it starts',
        { range: { topic: 't', partition: 0, from_offset: '5', until_offset: '2' } },
        'SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task a: invalid range [5, 2)',
      ],
      ['epoch 0', { epoch: '0' }, 'SLUICE_INVALID_REQUEST [SLUICE_INVALID_REQUEST] task a: epoch 0 is not a driver epoch'],
    ])('%s', async (_what, fields, error) => {
      start();
      expect(await runTask(service, request(fields.task_id ?? 'a', fields))).toEqual({ error });
      expect(runner.started).toEqual([]);
    });

    it('an epoch from the future', async () => {
      start({ currentEpoch: () => Promise.resolve('1') });
      expect(await runTask(service, request('a'))).toEqual({
        error: "SLUICE_FENCED [SLUICE_FENCED] task a: epoch 2 is from the future (job 'job1' is at epoch 1); refused",
      });
      expect(runner.started).toEqual([]);
    });

    it('a task beyond its slots, while the others run', async () => {
      start({ slots: 1 });
      const first = runTask(service, request('a'));
      await flush();
      expect(await runTask(service, request('b'))).toEqual({ error: 'SLUICE_RPC [SLUICE_RPC] executor e1 is running 1 tasks, its limit' });
      runner.finish('a', 10);
      expect(await first).toEqual({ records: '10' });
      expect(runner.started.map((t) => t.taskId)).toEqual(['a']);
    });
  });

  it('runs a valid task and answers with its report', async () => {
    start();
    const answer = runTask(service, request('a'));
    await flush();
    expect(runner.started).toEqual([
      {
        taskId: 'a',
        batchId: 7,
        epoch: '2',
        attempt: 0,
        failures: 0,
        range: { topic: 't', partition: 0, fromOffset: 10n, untilOffset: 20n },
        mayStage: false,
      },
    ]);
    runner.finish('a', 10);
    expect(await answer).toEqual({ records: '10' });
    expect(service.runningTasks).toBe(0);
  });

  it('cancels a running task on CancelTask, and says so', async () => {
    start();
    const answer = runTask(service, request('a'));
    await flush();
    const cancel = (taskId: string): Promise<unknown> =>
      new Promise((resolve) =>
        service.handlers.CancelTask({ request: { task_id: taskId } } as grpc.ServerUnaryCall<{ task_id: string }, never>, (_e, r) =>
          resolve(r)
        )
      );
    expect(await cancel('unknown')).toEqual({ cancelled: false });
    expect(await cancel('a')).toEqual({ cancelled: true });
    expect(runner.signals.get('a')?.aborted).toBe(true);
    expect(await answer).toEqual({ error: 'SLUICE_TASK_FAILED [SLUICE_TASK_FAILED] task a stopped' });
  });

  it('answers a task group item by item, each task succeeding or failing on its own', async () => {
    start();
    const groups = openGroups(service);
    groups.send({ call_id: '1', timeout_ms: 0, tasks: [request('a'), request('b', { job: 'other' })] });
    expect(await groups.next()).toEqual({
      call_id: '1',
      items: [],
      error_code: 'SLUICE_INVALID_REQUEST',
      error_message: "[SLUICE_INVALID_REQUEST] task b: job 'other' is not this executor's job 'job1'",
      retriable: false,
    });
    groups.send({
      call_id: '2',
      timeout_ms: 0,
      tasks: [request('c'), request('d', { range: { topic: 't', partition: 1, from_offset: '0', until_offset: '5' } })],
    });
    await flush();
    runner.finish('c', 10);
    runner.fail('d', new Error('process threw'));
    expect(await groups.next()).toEqual({
      call_id: '2',
      items: [
        {
          result: {
            status: 'COMMITTED',
            executor_id: 'e1',
            records: '10',
            bytes: '100',
            fetch_ms: 1,
            process_ms: 2,
            commit_ms: 3,
            total_ms: 6,
            chunks: 1,
          },
          error_code: '',
          error_message: '',
          retriable: false,
        },
        { result: null, error_code: 'SLUICE_TASK_FAILED', error_message: '[SLUICE_TASK_FAILED] process threw', retriable: true },
      ],
      error_code: '',
      error_message: '',
      retriable: false,
    });
  });

  it("stops a task group's tasks when its timeout passes", async () => {
    start();
    const groups = openGroups(service);
    groups.send({ call_id: '1', timeout_ms: 5000, tasks: [request('a')] });
    await flush();
    clock.advance(4999);
    expect(runner.signals.get('a')?.aborted).toBe(false);
    clock.advance(1);
    expect(await groups.next()).toEqual(
      expect.objectContaining({
        call_id: '1',
        items: [expect.objectContaining({ result: null, error_message: '[SLUICE_TASK_FAILED] task a stopped' })],
      })
    );
  });

  describe('drain', () => {
    it('waits for the running tasks, then refuses new ones as a lost executor', async () => {
      start();
      const answer = runTask(service, request('a'));
      await flush();
      const drained = service.drain(5000);
      expect(await runTask(service, request('b'))).toEqual({
        error: 'SLUICE_EXECUTOR_LOST [SLUICE_EXECUTOR_LOST] executor e1 is shutting down: task b refused',
      });
      runner.finish('a', 3);
      expect(await answer).toEqual({ records: '3' });
      expect(await drained).toEqual({ finished: 1, handedBack: 0 });
    });

    it('hands back the tasks still running at its timeout, answering their calls at once', async () => {
      start();
      const answer = runTask(service, request('a'));
      await flush();
      const drained = service.drain(5000);
      await flush();
      clock.advance(5000);
      expect(await drained).toEqual({ finished: 0, handedBack: 1 });
      expect(await answer).toEqual({
        error: 'SLUICE_EXECUTOR_LOST [SLUICE_EXECUTOR_LOST] executor e1 is shutting down: task a handed back',
      });
      expect(runner.signals.get('a')?.aborted).toBe(true);
    });
  });
});
