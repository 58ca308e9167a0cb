import type * as grpc from '@grpc/grpc-js';
import {
  fromWireBlock,
  InvalidRequestError,
  receiverIdPattern,
  toWireBlock,
  SluiceError,
  toServiceError,
  type ExecutorHandlers,
  type Logger,
  type WireBlockTaskRequest,
  type WireReceiverCall,
  type WireReceiverEvent,
  type WireBlockTaskResult,
} from '@sluice/common';
import { int64Pattern, serveUnary, type TaskSlots } from '../executor-service';
import { toWireResult } from '../wire-result';
import type { ExecutorMetrics } from '../metrics';
import type { BlockTask, BlockTaskRunner } from './block-task';
import type { Receiver, ReceiverDependencies } from './receiver';

export interface ReceiverServiceOptions {
  executorId: string;
  job: string;
  /** A receiver for `receiverId`, reporting through `report`. */
  createReceiver(receiverId: string, maxRate: number, deps: Pick<ReceiverDependencies, 'report' | 'failed'>): Receiver;
  runner: BlockTaskRunner;
  /** A receiver whose block is not acknowledged within this long stops (its driver is gone). */
  ackTimeoutMs: number;
  logger: Logger;
  metrics?: ExecutorMetrics;
}

/**
 * Receiver mode's gRPC calls on an executor: `Receive` (a receiver in one task slot for as long as
 * the driver keeps the stream open) and `RunBlockTask`. Everything arriving is checked first.
 */
export class ReceiverService {
  /** Running receivers: their id, the epoch of the driver that started them, and how to end their stream. */
  private readonly running = new Map<string, { epoch: bigint; end(error?: SluiceError): void }>();

  constructor(private readonly options: ReceiverServiceOptions) {}

  handlers(slots: TaskSlots): Pick<ExecutorHandlers, 'Receive' | 'RunBlockTask'> {
    return {
      Receive: (stream) => this.serveReceive(stream, slots),
      RunBlockTask: (call, callback) =>
        serveUnary(call, callback, async (controller) => {
          const task = this.validateTask(call.request);
          return slots.inSlot(task.taskId, () => this.runTask(task, controller.signal));
        }),
    };
  }

  /** Stops every receiver (executor shutdown): their unreported blocks are received again by their successors. */
  close(): void {
    for (const r of [...this.running.values()]) r.end();
  }

  /**
   * A newer driver leads: receivers started by older ones stop (their driver is gone, though their
   * stream may not have noticed yet), so that only the new driver's receivers are in the group.
   */
  stopOlderThan(epoch: string): void {
    for (const [id, r] of [...this.running]) {
      if (r.epoch < BigInt(epoch)) {
        this.options.logger.warn({ receiver: id, epoch: String(r.epoch) }, 'stopping a receiver started by an earlier driver');
        r.end(new SluiceError('SLUICE_FENCED', `receiver ${id}: a driver of epoch ${epoch} leads now`));
      }
    }
  }

  private async runTask(task: BlockTask, signal: AbortSignal): Promise<WireBlockTaskResult> {
    const report = await this.options.runner.run(task, signal);
    this.options.metrics?.tasks.inc({ outcome: report.status.toLowerCase() });
    return { result: toWireResult(report, this.options.executorId), lost_blocks: report.lostBlocks };
  }

  private serveReceive(stream: grpc.ServerDuplexStream<WireReceiverCall, WireReceiverEvent>, slots: TaskSlots): void {
    const acks = new Map<string, () => void>();
    const ackTimers = new Set<NodeJS.Timeout>();
    let receiverId: string | undefined;
    let receiver: Receiver | undefined;
    let released: (() => void) | undefined;
    let ended = false;
    const end = (error?: SluiceError): void => {
      if (ended) return;
      ended = true;
      for (const [, resolve] of acks) resolve();
      acks.clear();
      for (const timer of ackTimers) clearTimeout(timer);
      if (receiverId !== undefined && this.running.get(receiverId)?.end === end) this.running.delete(receiverId);
      if (receiver) void receiver.stop().finally(() => released?.());
      else released?.();
      // grpc-js turns an 'error' of a server stream into the call's status.
      if (error) stream.emit('error', Object.assign(new Error(error.message), toServiceError(error)));
      else stream.end();
    };
    stream.on('cancelled', () => end());
    stream.on('error', () => end());
    stream.on('end', () => end());
    stream.on('data', (call: WireReceiverCall) => {
      if (ended) return;
      if (call.call === 'ack_block_id' && typeof call.ack_block_id === 'string') {
        acks.get(call.ack_block_id)?.();
        acks.delete(call.ack_block_id);
        return;
      }
      if (call.call === 'max_rate' && typeof call.max_rate === 'number' && call.max_rate >= 0) {
        receiver?.setMaxRate(call.max_rate);
        return;
      }
      if (call.call !== 'start' || !call.start || receiver) {
        end(new InvalidRequestError(`Receive: unexpected call '${String(call.call)}'`, { job: this.options.job }));
        return;
      }
      const { receiver_id: id, job, epoch, max_rate: maxRate } = call.start;
      if (!receiverIdPattern.test(id) || job !== this.options.job || !int64Pattern.test(String(epoch)) || !(maxRate >= 0)) {
        end(
          new InvalidRequestError(
            `Receive: malformed start of receiver '${String(id).slice(0, 200)}' for job '${String(job).slice(0, 200)}'`
          )
        );
        return;
      }
      // One receiver of an id per executor: an older one (an earlier driver's) stops first.
      this.running.get(id)?.end(new SluiceError('SLUICE_FENCED', `receiver ${id} started again`));
      receiverId = id;
      this.running.set(id, { epoch: BigInt(epoch), end });
      // A receiver holds its slot until the stream ends.
      void slots
        .inSlot(`receiver ${id}`, () => {
          if (ended) return Promise.resolve();
          const started = new Promise<void>((resolve) => (released = resolve));
          receiver = this.options.createReceiver(id, maxRate, {
            report: (block) => {
              if (ended) return Promise.reject(new SluiceError('SLUICE_EXECUTOR_LOST', `receiver ${id}: the driver's stream closed`));
              const acked = new Promise<void>((resolve) => acks.set(block.id, resolve));
              const timer = setTimeout(() => {
                end(
                  new SluiceError(
                    'SLUICE_EXECUTOR_LOST',
                    `receiver ${id}: block ${block.id} not acknowledged within ${this.options.ackTimeoutMs} ms`
                  )
                );
              }, this.options.ackTimeoutMs);
              ackTimers.add(timer);
              void acked.finally(() => {
                clearTimeout(timer);
                ackTimers.delete(timer);
              });
              stream.write({ block: toWireBlock(block) });
              return acked.then(() => {
                if (ended)
                  throw new SluiceError(
                    'SLUICE_EXECUTOR_LOST',
                    `receiver ${id}: the driver's stream closed before block ${block.id} was acknowledged`
                  );
              });
            },
            failed: (e) => end(new SluiceError('SLUICE_TASK_FAILED', `receiver ${id} failed: ${e.message}`, { retriable: true })),
          });
          receiver.start().then(
            () => {
              if (!ended) stream.write({ started: true });
              this.options.logger.info({ receiver: id }, 'receiver started');
            },
            (e: Error) =>
              end(new SluiceError('SLUICE_KAFKA_UNAVAILABLE', `receiver ${id} could not start: ${e.message}`, { retriable: true }))
          );
          return started;
        })
        .catch((e: unknown) => end(e instanceof SluiceError ? e : new SluiceError('SLUICE_RPC', String(e))));
    });
  }

  private validateTask(request: WireBlockTaskRequest): BlockTask {
    const invalid = (why: string): SluiceError =>
      new InvalidRequestError(`block task ${String(request.task_id).slice(0, 200)}: ${why}`, { job: this.options.job });
    if (typeof request.task_id !== 'string' || request.task_id === '' || request.task_id.length > 512)
      throw invalid('task_id must be 1 to 512 characters');
    if (request.job !== this.options.job)
      throw invalid(`job '${String(request.job).slice(0, 200)}' is not this executor's job '${this.options.job}'`);
    if (!int64Pattern.test(String(request.epoch)) || BigInt(request.epoch) < 1n)
      throw invalid(`epoch '${String(request.epoch).slice(0, 40)}' is not a driver epoch`);
    if (!int64Pattern.test(String(request.batch_id)) || Number(request.batch_id) < 1) throw invalid('batch_id is not a batch');
    if (!Array.isArray(request.blocks) || request.blocks.length === 0 || request.blocks.length > 100_000) throw invalid('no blocks');
    return {
      taskId: request.task_id,
      batchId: Number(request.batch_id),
      epoch: String(request.epoch),
      attempt: request.attempt,
      blocks: request.blocks.map((b) => fromWireBlock(b, invalid)),
    };
  }
}
