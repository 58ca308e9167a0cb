import type * as grpc from '@grpc/grpc-js';
import {
  fromServiceError,
  fromWireBlock,
  InvalidRequestError,
  type BlockInfo,
  type BlockLog,
  type Logger,
  type WireReceiverCall,
  type WireReceiverEvent,
} from '@sluice/common';
import type { ExecutorHandle, ExecutorRegistry } from '../dispatch/registry';

/** A receiver as the API, the UI and the metrics show it. */
export interface ReceiverInfo {
  id: string;
  /** `starting` (sent to an executor), `receiving`, `restarting` (waiting restartDelayMs), `waiting` (no executor free). */
  state: 'starting' | 'receiving' | 'restarting' | 'waiting' | 'stopped';
  executor: string | null;
  blocks: number;
  records: number;
  bytes: number;
  /** Bytes written to its write-ahead log (0 without it). */
  logBytes: number;
  /** Records/s received over the last blocks (about the last 10 s). */
  rate: number;
  restarts: number;
  /** Why it last stopped, if it did. */
  lastError: string | null;
}

export interface ReceiverTrackerSettings {
  job: string;
  count: number;
  restartDelayMs: number;
  maxRate: number;
}

interface Tracked {
  info: ReceiverInfo;
  stream?: grpc.ClientDuplexStream<WireReceiverCall, WireReceiverEvent>;
  handle?: ExecutorHandle;
  /** Where it is being started, counted before its slot is acquired so that concurrent launches spread out. */
  placed?: ExecutorHandle;
  /** Recent blocks for the rate: [time ms, records]. */
  recent: Array<[number, number]>;
}

/**
 * The driver's side of the receivers (Spark's ReceiverTracker): starts `count` receivers on live
 * executors, each holding one task slot there; records each block a receiver reports in the block
 * log and acknowledges it (the receiver then commits its offsets to the group); restarts a receiver
 * whose stream ends (its executor died, it failed) on a live executor after `restartDelayMs`.
 */
export class ReceiverTracker {
  private readonly receivers = new Map<string, Tracked>();
  private epoch = '';
  private stopped = false;
  private maxRate: number;
  /** Called after each block is recorded (metrics). */
  onBlock: (block: BlockInfo) => void = () => undefined;

  constructor(
    private readonly settings: ReceiverTrackerSettings,
    private readonly deps: { registry: ExecutorRegistry; log: BlockLog; logger: Logger }
  ) {
    this.maxRate = settings.maxRate;
  }

  start(epoch: string): void {
    this.epoch = epoch;
    for (let i = 0; i < this.settings.count; i++) {
      const id = `receiver-${i}`;
      const tracked: Tracked = {
        info: { id, state: 'waiting', executor: null, blocks: 0, records: 0, bytes: 0, logBytes: 0, rate: 0, restarts: 0, lastError: null },
        recent: [],
      };
      this.receivers.set(id, tracked);
      void this.launch(tracked);
    }
  }

  describe(): ReceiverInfo[] {
    const now = Date.now();
    return [...this.receivers.values()].map((t) => {
      t.recent = t.recent.filter(([at]) => now - at < 10_000);
      const records = t.recent.reduce((n, [, r]) => n + r, 0);
      return { ...t.info, rate: t.recent.length === 0 ? 0 : Math.round(records / 10) };
    });
  }

  /** Whether `executor` runs a receiver now (so blocks in its memory are there). */
  executorAlive(executor: string): boolean {
    return this.deps.registry.get(executor) !== undefined;
  }

  /** A new rate limit for the job (the backpressure estimate), split over the receivers. */
  setRate(recordsPerSecond: number): void {
    const share = Math.max(1, recordsPerSecond / this.settings.count);
    this.maxRate = this.settings.maxRate > 0 ? Math.min(this.settings.maxRate, share) : share;
    for (const t of this.receivers.values()) t.stream?.write({ max_rate: this.maxRate });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.receivers.values()) {
      t.info.state = 'stopped';
      t.stream?.end();
      t.stream?.cancel();
    }
  }

  /** Starts `t` on the live executor running the fewest receivers, waiting for one if none is. */
  private async launch(t: Tracked): Promise<void> {
    while (!this.stopped) {
      const handle = this.pickExecutor();
      if (!handle) {
        t.info.state = 'waiting';
        await this.deps.registry.waitForChange(60_000).catch(() => undefined);
        continue;
      }
      t.placed = handle;
      try {
        await handle.acquire();
      } finally {
        t.placed = undefined;
      }
      this.open(t, handle);
      return;
    }
  }

  private pickExecutor(): ExecutorHandle | undefined {
    const counts = new Map<string, number>();
    for (const t of this.receivers.values()) {
      const at = t.handle ?? t.placed;
      if (at) counts.set(at.id, (counts.get(at.id) ?? 0) + 1);
    }
    // A receiver takes a slot for good: an executor keeps at least one for tasks.
    const candidates = this.deps.registry.alive().filter((h) => (counts.get(h.id) ?? 0) < h.slots - 1);
    return candidates.sort((a, b) => (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0))[0];
  }

  private open(t: Tracked, handle: ExecutorHandle): void {
    const { logger } = this.deps;
    t.handle = handle;
    t.info.executor = handle.id;
    t.info.state = 'starting';
    const stream = handle.client.Receive();
    t.stream = stream;
    let closed = false;
    let recording = Promise.resolve();
    const close = (why: string): void => {
      if (closed) return;
      closed = true;
      handle.release();
      t.stream = undefined;
      t.handle = undefined;
      if (this.stopped) return;
      t.info.lastError = why;
      t.info.state = 'restarting';
      t.info.restarts++;
      logger.warn(
        { receiver: t.info.id, executor: handle.id, err: why, restartInMs: this.settings.restartDelayMs },
        'receiver stopped; restarting it'
      );
      setTimeout(() => void this.launch(t), this.settings.restartDelayMs).unref();
    };
    stream.on('data', (event: WireReceiverEvent) => {
      if (event.event === 'started') {
        t.info.state = 'receiving';
        logger.info({ receiver: t.info.id, executor: handle.id }, 'receiver receiving');
        return;
      }
      if (event.event !== 'block' || !event.block) return;
      let block: BlockInfo;
      try {
        block = fromWireBlock(event.block, (why) => new InvalidRequestError(`receiver ${t.info.id}: ${why}`));
        if (block.receiver !== t.info.id || block.executor !== handle.id)
          throw new InvalidRequestError(`receiver ${t.info.id}: block ${block.id} names another receiver or executor`);
      } catch (e) {
        stream.cancel();
        close((e as Error).message);
        return;
      }
      // Recorded and acknowledged in the order received, so the receiver commits its offsets in order.
      recording = recording.then(async () => {
        try {
          await this.deps.log.record(this.epoch, block);
        } catch (e) {
          logger.error(
            { receiver: t.info.id, block: block.id, err: (e as Error).message },
            'recording a block failed; the receiver is restarted'
          );
          stream.cancel();
          close((e as Error).message);
          return;
        }
        t.info.blocks++;
        t.info.records += block.records;
        t.info.bytes += block.bytes;
        t.info.logBytes += block.logBytes;
        t.recent.push([Date.now(), block.records]);
        this.onBlock(block);
        if (!closed) stream.write({ ack_block_id: block.id });
      });
    });
    stream.on('error', (e: grpc.ServiceError) => close(fromServiceError(e, `receiver ${t.info.id}`).message));
    stream.on('end', () => close('the executor ended the receiver'));
    stream.write({ start: { receiver_id: t.info.id, job: this.settings.job, epoch: this.epoch, max_rate: this.maxRate } });
  }
}
