import * as grpc from '@grpc/grpc-js';
import {
  fromServiceError,
  fromWireFailure,
  serviceError,
  type ExecutorClient,
  type SluiceError,
  type WireTaskGroupAnswer,
  type WireTaskGroupCall,
  type WireTaskGroupItem,
  type WireTaskRequest,
} from '@sluice/common';

/** How a call to an executor the driver has removed fails: as an unreachable one. */
export function executorRemoved(): grpc.ServiceError {
  return serviceError(grpc.status.UNAVAILABLE, 'executor was removed');
}

type GroupStream = grpc.ClientDuplexStream<WireTaskGroupCall, WireTaskGroupAnswer>;

interface PendingCall {
  resolve(items: WireTaskGroupItem[]): void;
  reject(error: SluiceError): void;
  timer: NodeJS.Timeout;
}

/**
 * The driver's end of one executor's TaskGroups stream: opened on the first call, opened again
 * after it broke. Each call waits for the answer with its call_id, at most its timeout; a stream
 * that breaks fails every call waiting on it the way a unary call would fail (an unreachable
 * executor is UNAVAILABLE), so the dispatcher treats both alike.
 */
export class TaskGroupStream {
  private stream: GroupStream | undefined;
  private readonly pending = new Map<string, PendingCall>();
  private nextCallId = 1;
  private closed = false;

  constructor(
    private readonly client: ExecutorClient,
    private readonly executorId: string
  ) {}

  /**
   * Runs `tasks` as one group.
   * @returns one item per task, in order.
   * @throws SluiceError: the group was refused (its code says why), timed out, or the stream broke.
   */
  call(tasks: WireTaskRequest[], timeoutMs: number): Promise<WireTaskGroupItem[]> {
    const what = `task group of ${tasks.length} starting with ${tasks[0]?.task_id ?? 'nothing'} on executor ${this.executorId}`;
    if (this.closed) return Promise.reject(fromServiceError(executorRemoved(), what));
    const callId = String(this.nextCallId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(callId);
        reject(fromServiceError(serviceError(grpc.status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`), what));
      }, timeoutMs);
      this.pending.set(callId, { resolve, reject, timer });
      this.open().write({ call_id: callId, timeout_ms: timeoutMs, tasks });
    });
  }

  /** Fails the calls still waiting and closes the stream (the executor stops their groups). */
  close(): void {
    this.closed = true;
    this.stream?.cancel();
  }

  private open(): GroupStream {
    if (this.stream) return this.stream;
    const open = this.client.TaskGroups();
    this.stream = open;
    const broken = (error: grpc.ServiceError): void => {
      if (this.stream === open) this.stream = undefined;
      for (const [callId, call] of this.pending) {
        clearTimeout(call.timer);
        this.pending.delete(callId);
        call.reject(fromServiceError(error, `task group ${callId} on executor ${this.executorId}`));
      }
    };
    open.on('data', (answer: WireTaskGroupAnswer) => {
      const call = this.pending.get(answer.call_id);
      if (!call) return; // timed out meanwhile
      this.pending.delete(answer.call_id);
      clearTimeout(call.timer);
      if (answer.error_code !== '') call.reject(fromWireFailure(answer));
      else call.resolve(answer.items);
    });
    open.on('error', broken);
    // The executor ended the stream (it is shutting down): what still waits is lost with it.
    open.on('end', () => broken(serviceError(grpc.status.UNAVAILABLE, 'executor closed the task group stream')));
    return open;
  }
}
