import { randomUUID } from 'node:crypto';
import {
  blockBytes,
  blockRanges,
  encodeBlock,
  partitionKey,
  type BlockInfo,
  type BlockLog,
  type GroupConsumer,
  type Logger,
  type SourceRecord,
} from '@sluice/common';
import type { BlockStore } from './block-store';
import { RateLimiter } from './rate-limiter';

export interface ReceiverSettings {
  receiverId: string;
  executorId: string;
  blockIntervalMs: number;
  queueBlocks: number;
  /** Records/s; 0 = no limit. */
  maxRate: number;
  /** Log each block before reporting it (receiver.writeAheadLog), waiting for this many replicas. */
  writeAheadLog: { replicas: number; timeoutMs: number } | undefined;
  /** `after-log`: the process dies once a block is logged and recorded, before its offsets are committed (a test's fault point). */
  fault?: string;
}

export interface ReceiverDependencies {
  /** Made with this receiver's `onRecords` and `onCrash`. */
  consumer: (handlers: { onRecords: Receiver['onRecords']; onCrash: (e: Error) => void }) => GroupConsumer;
  log: BlockLog;
  store: BlockStore;
  /** Sends the block to the driver; resolves when the driver recorded it (acknowledged). */
  report(block: BlockInfo): Promise<void>;
  /** The receiver stopped on its own (the consumer crashed, logging failed). */
  failed(e: Error): void;
  logger: Logger;
}

interface QueuedBlock {
  info: BlockInfo;
  records: SourceRecord[];
  /** Next offset per partition once the block is safe. */
  offsets: Map<string, bigint>;
}

/**
 * A long-running receiver (Spark's receiver on Kafka's high-level consumer): records are cut into
 * a block every `blockIntervalMs`; blocks wait in a queue of `queueBlocks`, and a full queue pauses
 * the consumer (backpressure). One block after the other is logged (with the write-ahead log),
 * kept in memory for its block task, reported to the driver, and once the driver recorded it, its
 * offsets are committed to the group: a block is never committed before it is safe.
 */
export class Receiver {
  private readonly incarnation = randomUUID().slice(0, 8);
  private sequence = 0;
  private current: SourceRecord[] = [];
  private readonly queue: QueuedBlock[] = [];
  private paused = false;
  private pumping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly consumer: GroupConsumer;
  private readonly limiter: RateLimiter;
  /** Counters for the metrics. */
  readonly stats = { blocks: 0, records: 0, logBytes: 0 };

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly deps: ReceiverDependencies
  ) {
    this.limiter = new RateLimiter(settings.maxRate);
    this.consumer = deps.consumer({ onRecords: (records, heartbeat) => this.onRecords(records, heartbeat), onCrash: (e) => this.fail(e) });
  }

  get queuedBlocks(): number {
    return this.queue.length;
  }

  async start(): Promise<void> {
    await this.consumer.start();
    // Stopped while it joined: its consumer leaves again.
    if (this.stopped) {
      await this.consumer.close().catch(() => undefined);
      return;
    }
    this.timer = setInterval(() => this.cut(), this.settings.blockIntervalMs);
  }

  setMaxRate(recordsPerSecond: number): void {
    this.limiter.setRate(recordsPerSecond);
  }

  /** Stops receiving; blocks not yet reported are dropped (their offsets were not committed: Kafka delivers them again). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.consumer.close().catch(() => undefined);
  }

  async onRecords(records: SourceRecord[], heartbeat: () => Promise<void>): Promise<void> {
    await this.limiter.take(records.length, heartbeat);
    for (const r of records) this.current.push(r);
  }

  /** Cuts the records received since the last cut into a block. */
  private cut(): void {
    if (this.stopped || this.current.length === 0) return;
    const records = this.current;
    this.current = [];
    const offsets = new Map<string, bigint>();
    for (const r of records) offsets.set(partitionKey(r), r.offset + 1n);
    const info: BlockInfo = {
      id: `${this.settings.receiverId}.${this.incarnation}.${++this.sequence}`,
      receiver: this.settings.receiverId,
      executor: this.settings.executorId,
      wal: '',
      records: records.length,
      bytes: blockBytes(records),
      logBytes: 0,
      ranges: blockRanges(records),
    };
    this.queue.push({ info, records, offsets });
    if (this.queue.length >= this.settings.queueBlocks && !this.paused) {
      this.paused = true;
      this.consumer.pause();
      this.deps.logger.debug({ queued: this.queue.length }, 'block queue full: consumer paused');
    }
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  private async pump(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const block = this.queue[0] as QueuedBlock;
      try {
        await this.makeSafe(block);
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      this.queue.shift();
      if (this.paused && this.queue.length < this.settings.queueBlocks) {
        this.paused = false;
        this.consumer.resume();
      }
    }
  }

  /** Log, keep, report, then commit the offsets: the order that makes a reported block safe. */
  private async makeSafe(block: QueuedBlock): Promise<void> {
    const { info, records } = block;
    const wal = this.settings.writeAheadLog;
    if (wal) {
      const data = encodeBlock(records);
      info.wal = await this.deps.log.appendToLog(info.receiver, info.id, data, wal.replicas, wal.timeoutMs);
      info.logBytes = data.length;
      this.stats.logBytes += data.length;
    }
    this.deps.store.put(info.id, records);
    await this.deps.report(info);
    if (this.settings.fault === 'after-log') {
      this.deps.logger.error(
        { block: info.id },
        'SLUICE_FAULT_RECEIVER_CRASH=after-log: dying after the block is logged, before its offsets are committed'
      );
      process.kill(process.pid, 'SIGKILL');
    }
    await this.consumer.commit(block.offsets).catch((e: Error) =>
      // A rebalance took the partition: its new owner receives from the last commit (at-least-once).
      this.deps.logger.warn({ block: info.id, err: e.message }, 'committing the block offsets to the group failed; they are received again')
    );
    this.stats.blocks++;
    this.stats.records += records.length;
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.deps.logger.error({ receiver: this.settings.receiverId, err: e.message }, 'receiver failed');
    void this.stop();
    this.deps.failed(e);
  }
}
