import { performance } from 'node:perf_hooks';
import {
  asRedisOutage,
  BlockLostError,
  decodeBlock,
  SluiceError,
  type BlockInfo,
  type BlockLog,
  type ChunkCommitter,
  type Job,
  type Logger,
  type ProcessContext,
  type RedisWrite,
  type SourceRecord,
} from '@sluice/common';
import { processChunk, type PoisonSettings } from '../poison';
import type { TaskReport } from '../task-runner';
import type { BlockStore } from './block-store';

export interface BlockTask {
  taskId: string;
  batchId: number;
  epoch: string;
  attempt: number;
  blocks: BlockInfo[];
}

/** A block task's report: as a task's, plus the blocks found nowhere. */
export type BlockTaskReport = TaskReport & { lostBlocks: string[] };

export interface BlockTaskRunnerOptions {
  job: Job;
  jobName: string;
  log: BlockLog;
  store: BlockStore;
  poison: PoisonSettings;
  logger: Logger;
  /** After each block applied, with its records and bytes. */
  onBlockCommitted?: (records: number, bytes: number) => void;
}

/**
 * Runs a block task: for each block of it, its records from this executor's memory, else from the
 * write-ahead log; `process` per partition of the block (so each call has exact coordinates); then
 * the block's outputs through the job's sink, applied once per block (commit-block-n.lua).
 * A block found in neither place is reported lost (the driver marks it so, SLUICE_BLOCK_LOST).
 */
export class BlockTaskRunner {
  constructor(private readonly options: BlockTaskRunnerOptions) {}

  async run(task: BlockTask, signal: AbortSignal): Promise<BlockTaskReport> {
    const started = performance.now();
    const report: BlockTaskReport = {
      status: 'ALREADY_COMMITTED',
      records: 0,
      bytes: 0,
      fetchMs: 0,
      processMs: 0,
      commitMs: 0,
      totalMs: 0,
      chunks: 0,
      lostBlocks: [],
    };
    try {
      for (const block of task.blocks) {
        if (signal.aborted) throw new SluiceError('SLUICE_TASK_FAILED', `block task ${task.taskId} cancelled`, { retriable: true });
        await this.runBlock(task, block, report);
      }
    } catch (e) {
      throw asRedisOutage(e);
    }
    report.totalMs = Math.round(performance.now() - started);
    return report;
  }

  private async runBlock(task: BlockTask, block: BlockInfo, report: BlockTaskReport): Promise<void> {
    const { job, log, store } = this.options;
    const fetchStarted = performance.now();
    const records = await this.recordsOf(block);
    report.fetchMs += Math.round(performance.now() - fetchStarted);
    if (records === null) {
      const lost = new BlockLostError(
        `block ${block.id} (${block.records} records) of receiver ${block.receiver} is not in memory here and ${
          block.wal === '' ? 'was not written to a write-ahead log (receiver.writeAheadLog is off)' : `its log entry ${block.wal} is gone`
        }`,
        { block: block.id, receiver: block.receiver, records: block.records }
      );
      this.options.logger.error({ block: block.id, batch: task.batchId }, lost.message);
      report.lostBlocks.push(block.id);
      return;
    }
    const processStarted = performance.now();
    const outputs: unknown[] = [];
    let first: ProcessContext | undefined;
    for (const range of block.ranges) {
      const part = records.filter((r) => r.topic === range.topic && r.partition === range.partition);
      const context = this.context(task, range);
      first ??= context;
      const processed = await processChunk(job, part, context, this.options.poison, task.attempt);
      for (const o of processed.outputs) outputs.push(o);
    }
    report.processMs += Math.round(performance.now() - processStarted);
    const commitStarted = performance.now();
    let applied = false;
    const committer: ChunkCommitter = {
      context: first ?? this.context(task, { topic: '', partition: 0, from: '0', until: '0', records: 0 }),
      epoch: task.epoch,
      commit: async (writes: RedisWrite[]) => {
        const outcome = await log.commitBlock({ epoch: task.epoch, batchId: task.batchId, block, writes });
        applied = outcome === 'committed';
        return applied ? { status: 'committed' } : { status: 'skipped', storedOffset: null };
      },
    };
    await job.sink.commit(outputs, committer);
    report.commitMs += Math.round(performance.now() - commitStarted);
    store.delete(block.id);
    if (!applied) return;
    report.status = 'COMMITTED';
    report.chunks++;
    report.records += block.records;
    report.bytes += block.bytes;
    this.options.onBlockCommitted?.(block.records, block.bytes);
  }

  /** From memory, else from the write-ahead log; null when in neither. */
  private async recordsOf(block: BlockInfo): Promise<SourceRecord[] | null> {
    const inMemory = this.options.store.get(block.id);
    if (inMemory) return inMemory;
    const data = block.wal === '' ? null : await this.options.log.readFromLog(block.receiver, block.wal);
    return data === null ? null : decodeBlock(data);
  }

  private context(task: BlockTask, range: BlockInfo['ranges'][number]): ProcessContext {
    const logger = this.options.logger;
    return {
      job: this.options.jobName,
      batchId: task.batchId,
      topic: range.topic,
      partition: range.partition,
      fromOffset: BigInt(range.from),
      untilOffset: BigInt(range.until),
      attempt: task.attempt,
      get logger() {
        return logger.child({ batch: task.batchId, topic: range.topic, partition: range.partition });
      },
    };
  }
}
