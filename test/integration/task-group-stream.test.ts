import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  createLogger,
  grpcSecurity,
  type ExecutorClient,
  isPeerUnreachable,
  loadServices,
  SluiceError,
  type WireTaskGroupItem,
  type WireTaskRequest,
} from '@sluice/common';
import type { Task, TaskReport, TaskRunner } from '@sluice/executor';
import { TaskGroupStream } from '../../packages/driver/src/dispatch/task-group-stream';
import { ExecutorService } from '../../packages/executor/src/executor-service';
import { repoRoot } from '../helpers/env';
import { waitFor } from '../helpers/wait-for';

/**
 * Both ends of the TaskGroups stream over loopback, with a runner whose tasks finish only when the
 * test releases them (no Kafka or Redis: what is tested is the stream, not the tasks).
 */

const job = 'stream-test';

class GatedRunner {
  readonly aborted: string[] = [];
  private readonly gates = new Map<number, () => void>();
  /** Partitions whose tasks wait for {@link release} (or an abort); the others finish at once. */
  readonly held = new Set<number>();

  readAll(): Promise<Map<string, never>> {
    return Promise.resolve(new Map<string, never>());
  }

  run(task: Task, signal: AbortSignal): Promise<TaskReport> {
    const report: TaskReport = {
      status: 'COMMITTED',
      records: Number(task.range.untilOffset - task.range.fromOffset),
      bytes: 0,
      fetchMs: 0,
      processMs: 0,
      commitMs: 0,
      totalMs: 0,
      chunks: 1,
    };
    if (!this.held.has(task.range.partition)) return Promise.resolve(report);
    return new Promise((resolve, reject) => {
      this.gates.set(task.range.partition, () => resolve(report));
      signal.addEventListener('abort', () => {
        this.aborted.push(task.taskId);
        reject(new SluiceError('SLUICE_TASK_FAILED', `task ${task.taskId} aborted`, { retriable: true }));
      });
    });
  }

  waiting(partition: number): boolean {
    return this.gates.has(partition);
  }

  release(partition: number): void {
    this.gates.get(partition)?.();
  }
}

function task(partition: number, records: number, jobName = job): WireTaskRequest {
  return {
    task_id: `1/t:${partition}@0/0`,
    job: jobName,
    batch_id: '1',
    epoch: '1',
    attempt: 0,
    range: { topic: 't', partition, from_offset: '0', until_offset: String(records) },
    may_stage: false,
    failures: 0,
  };
}

/** A script serving TaskGroups on `port` that prints a line when listening and one per group, and never answers. */
function silentExecutor(port: number): string {
  const common = join(repoRoot, 'packages/common/dist');
  return `
    const grpc = require(${JSON.stringify(require.resolve('@grpc/grpc-js'))});
    const { loadServices } = require(${JSON.stringify(common)});
    const server = new grpc.Server();
    server.addService(loadServices().Executor.service, {
      RunTask() {}, CancelTask() {},
      TaskGroups(stream) { stream.on('data', () => process.stdout.write('group\\n')); },
    });
    server.bindAsync('127.0.0.1:${port}', grpc.ServerCredentials.createInsecure(), () => process.stdout.write('listening\\n'));`;
}

const recordsOf = (items: WireTaskGroupItem[]): string[] => items.map((i) => i.result?.records ?? i.error_code);

describe('TaskGroups stream (driver and executor ends)', () => {
  const logger = createLogger('silent');
  let runner: GatedRunner;
  let service: ExecutorService;
  let port: number;
  let client: ExecutorClient;
  let stream: TaskGroupStream;

  async function startExecutor(slots: number, atPort = 0): Promise<void> {
    service = new ExecutorService(
      runner as unknown as TaskRunner,
      { executorId: 'e1', job, host: '127.0.0.1', port: atPort, slots },
      logger
    );
    port = await service.listen();
  }

  beforeEach(async () => {
    runner = new GatedRunner();
    await startExecutor(2);
    client = new (loadServices().Executor)(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), grpcSecurity().clientOptions);
    stream = new TaskGroupStream(client, 'e1');
  });

  afterEach(async () => {
    stream.close();
    client.close();
    await service.close();
  });

  it('answers each group by its call id, in whatever order the groups finish', async () => {
    runner.held.add(0);
    const slow = stream.call([task(0, 5), task(2, 7)], 10_000);
    await waitFor(() => runner.waiting(0), { label: 'the first group running' });
    const fast = await stream.call([task(1, 3)], 10_000);
    expect(recordsOf(fast)).toEqual(['3']);
    runner.release(0);
    expect(recordsOf(await slow)).toEqual(['5', '7']);
  });

  it('a group the executor refuses fails with its code; a malformed one is not retriable', async () => {
    await service.close();
    await startExecutor(1, port);
    runner.held.add(0);
    const first = stream.call([task(0, 1)], 10_000);
    await waitFor(() => runner.waiting(0), { label: 'the only slot taken' });
    const refused = await stream.call([task(1, 1)], 10_000).catch((e: SluiceError) => e);
    expect(refused).toMatchObject({ code: 'SLUICE_RPC', retriable: true });
    expect((refused as SluiceError).message).toMatch(/limit/);
    expect(isPeerUnreachable(refused as SluiceError)).toBe(false);
    runner.release(0);
    expect(recordsOf(await first)).toEqual(['1']);

    const malformed = await stream.call([task(1, 1, 'another-job')], 10_000).catch((e: SluiceError) => e);
    expect(malformed).toMatchObject({ code: 'SLUICE_INVALID_REQUEST', retriable: false });
  });

  it('a group past its timeout fails on the driver and is stopped on the executor', async () => {
    runner.held.add(4);
    const late = await stream.call([task(4, 1)], 300).catch((e: SluiceError) => e);
    expect(late).toMatchObject({ code: 'SLUICE_RPC', retriable: true });
    expect((late as SluiceError).message).toMatch(/DEADLINE_EXCEEDED/);
    await waitFor(() => runner.aborted.includes(task(4, 1).task_id), { label: 'the executor stopping the timed-out task' });
    // The stream still serves.
    expect(recordsOf(await stream.call([task(5, 2)], 10_000))).toEqual(['2']);
  });

  it('closing the stream fails what waits on it and stops those groups on the executor', async () => {
    runner.held.add(0);
    const pending = stream.call([task(0, 1)], 10_000).catch((e: SluiceError) => e);
    await waitFor(() => runner.waiting(0), { label: 'the group running' });
    stream.close();
    expect(await pending).toMatchObject({ code: 'SLUICE_RPC' });
    await waitFor(() => runner.aborted.includes(task(0, 1).task_id), { label: 'the executor stopping the group' });
    const after = await stream.call([task(1, 1)], 10_000).catch((e: SluiceError) => e);
    expect(isPeerUnreachable(after as SluiceError)).toBe(true);
  });

  it('an executor process that dies fails what waits as unreachable; the next group opens a new stream', async () => {
    // A process that takes groups and never answers, killed with SIGKILL: its socket just closes.
    await service.close();
    const silent = spawn(process.execPath, ['-e', silentExecutor(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(silent, 'exit');
    try {
      await once(silent.stdout, 'data');
      const pending = stream.call([task(0, 1)], 10_000).catch((e: SluiceError) => e);
      await once(silent.stdout, 'data'); // the group arrived
      silent.kill('SIGKILL');
      expect(isPeerUnreachable((await pending) as SluiceError)).toBe(true);
    } finally {
      silent.kill('SIGKILL');
      await exited;
    }
    await startExecutor(2, port);
    const items = await waitFor(() => stream.call([task(1, 4)], 10_000).catch(() => undefined), {
      label: 'a group on the executor started in its place',
    });
    expect(recordsOf(items)).toEqual(['4']);
  });

  it('a graceful executor shutdown ends the open streams instead of waiting on them', async () => {
    expect(recordsOf(await stream.call([task(0, 1)], 10_000))).toEqual(['1']);
    // tryShutdown waits for every call; a stream the executor did not end would keep it waiting.
    await service.close();
    const after = await stream.call([task(1, 1)], 2_000).catch((e: SluiceError) => e);
    expect(after).toBeInstanceOf(SluiceError);
  });
});
