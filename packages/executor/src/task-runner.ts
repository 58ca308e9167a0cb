import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  asRedisOutage,
  CheckpointConflictError,
  FencedError,
  SluiceError,
  type CheckpointStore,
  type ChunkCommitter,
  type CommitOutcome,
  type Job,
  type Logger,
  type OffsetRange,
  type ProcessContext,
  type RangeReader,
  type RedisWrite,
  type SourceRecord,
} from '@sluice/common';
import { defaultPoisonSettings, processChunk, type PoisonSettings } from './poison';

export interface Task {
  taskId: string;
  batchId: number;
  epoch: string;
  attempt: number;
  range: OffsetRange;
  /** A later piece of a range split for skew: chunks may be staged until the pieces before it commit. */
  mayStage?: boolean;
  /** Earlier attempts that failed on the task's own account (what the poison policy counts). */
  failures?: number;
  /** The whole range's records, already read with those of other tasks of its group (see {@link RangeReader.readAll}). */
  prefetched?: SourceRecord[];
}

export interface TaskReport {
  /** STAGED: (part of) the range waits in a stage that the driver applies (see `mayStage`). */
  status: 'COMMITTED' | 'ALREADY_COMMITTED' | 'STAGED';
  records: number;
  bytes: number;
  fetchMs: number;
  processMs: number;
  commitMs: number;
  totalMs: number;
  chunks: number;
}

export interface TaskRunnerOptions {
  job: Job;
  /** The job's name as configured (`job.name`, else the job's own): its Redis keys are named after it. */
  jobName: string;
  reader: RangeReader;
  store: CheckpointStore;
  /** Records per chunk at most: one `process` call and one commit each. */
  maxChunkRecords: number;
  logger: Logger;
  /** Poison records: policy, attempts before dead-lettering, size limit, the dead-letter queue. */
  poison?: PoisonSettings;
}

/**
 * Runs one task: reads `[from, until)`, calls the job's `process` chunk by chunk and commits each
 * chunk through the sink, atomically with the offset advance. Memory is bounded by the chunk size
 * and fetch sizes, not by the range length.
 *
 * Resuming: a retry starts where the checkpoint stands. If an earlier attempt committed part of the
 * range, the rest is read; if it committed all of it, nothing is read and the task reports
 * ALREADY_COMMITTED.
 */
export class TaskRunner {
  /** Called after each chunk committed (or staged), with its records and their key and value bytes, whatever becomes of the task. */
  onChunkCommitted: (records: number, bytes: number) => void = () => undefined;

  private readonly job: Job;
  private readonly jobName: string;
  private readonly reader: RangeReader;
  private readonly store: CheckpointStore;
  private readonly maxChunkRecords: number;
  private readonly logger: Logger;
  private readonly poison: PoisonSettings;

  constructor(options: TaskRunnerOptions) {
    this.job = options.job;
    this.jobName = options.jobName;
    this.reader = options.reader;
    this.store = options.store;
    this.maxChunkRecords = options.maxChunkRecords;
    this.logger = options.logger;
    this.poison = options.poison ?? defaultPoisonSettings;
  }

  /** Reads the ranges of a group of small tasks together (see {@link RangeReader.readAll}); none when the reader cannot. */
  async readAll(tasks: Task[], signal: AbortSignal): Promise<Map<string, SourceRecord[]>> {
    if (!this.reader.readAll) return new Map();
    // A retry reads on a fresh connection, as a single task's does.
    const freshConnection = tasks.some((t) => t.attempt > 0);
    return this.reader.readAll(
      tasks.map((t) => t.range),
      { signal, freshConnection }
    );
  }

  async run(task: Task, signal: AbortSignal): Promise<TaskReport> {
    let report: TaskReport;
    try {
      report = await this.runTask(task, signal);
    } catch (e) {
      // Redis down is not the task's fault: the driver retries it once Redis is back.
      throw asRedisOutage(e);
    }
    try {
      this.reader.committed?.(task.range);
    } catch (e) {
      // Only the read-ahead of the next range is lost: the task committed.
      this.logger.warn({ err: (e as Error).message, taskId: task.taskId }, 'read-ahead after the commit failed');
    }
    return report;
  }

  private async runTask(task: Task, signal: AbortSignal): Promise<TaskReport> {
    const started = performance.now();
    const { range } = task;
    const report: TaskReport = { status: 'COMMITTED', records: 0, bytes: 0, fetchMs: 0, processMs: 0, commitMs: 0, totalMs: 0, chunks: 0 };
    // A first attempt of a non-empty range starts optimistically at `from`, without reading the
    // checkpoint first: the commit script checks it anyway, so a task whose range fits one chunk
    // costs one Redis round trip. Should the checkpoint be elsewhere (a replayed batch partly
    // committed before a driver crash, a duplicate), the first commit says so and changes nothing.
    if (task.attempt === 0 && range.fromOffset < range.untilOffset) {
      try {
        const first = await this.runFrom(task, range.fromOffset, signal, report, started);
        if (first !== null) return first;
      } catch (e) {
        // A fenced epoch still reports a range that is already complete as such, as a checked start does.
        if (!(e instanceof FencedError) || report.chunks > 0) throw e;
        if ((await this.store.readOffset(range)) !== range.untilOffset) throw e;
        return { ...report, status: 'ALREADY_COMMITTED', totalMs: elapsed(started) };
      }
    }
    const stored = await this.store.readOffset(range);
    if (stored === range.untilOffset) return { ...report, status: 'ALREADY_COMMITTED', totalMs: elapsed(started) };
    // A later piece whose predecessors are not committed yet stages its whole range, from its start.
    if (task.mayStage && stored !== null && stored < range.fromOffset) {
      return (await this.runFrom(task, range.fromOffset, signal, report, started)) as TaskReport;
    }
    if (stored === null || stored < range.fromOffset || stored > range.untilOffset) {
      throw new CheckpointConflictError(
        `${range.topic}-${range.partition}: checkpoint at ${stored ?? 'none'} is outside the task's range [${range.fromOffset}, ${range.untilOffset})`,
        { topic: range.topic, partition: range.partition, stored: stored?.toString() ?? null }
      );
    }
    return (await this.runFrom(task, stored, signal, report, started)) as TaskReport;
  }

  /**
   * Reads, processes and commits `[start, until)` chunk by chunk. Returns null (nothing committed)
   * when `start` was a guess and the first commit found the checkpoint elsewhere.
   */
  private async runFrom(task: Task, start: bigint, signal: AbortSignal, report: TaskReport, started: number): Promise<TaskReport | null> {
    const { range } = task;
    const optimistic = task.attempt === 0 && report.chunks === 0 && start === range.fromOffset;
    // Made on first use: most tasks never log, and a child logger costs a redaction pass of its bindings.
    let taskLogger: Logger | undefined;
    const log = (): Logger =>
      (taskLogger ??= this.logger.child({ batch: task.batchId, topic: range.topic, partition: range.partition, attempt: task.attempt }));
    let chunkStart = start;
    let pending: SourceRecord[] = [];
    let fetchStarted = performance.now();
    const source =
      task.prefetched !== undefined && start === range.fromOffset
        ? [task.prefetched]
        : this.reader.read({ ...range, fromOffset: start }, { signal, freshConnection: task.attempt > 0 });
    for await (const records of source) {
      report.fetchMs += elapsed(fetchStarted);
      pending = pending.length === 0 ? records : pending.concat(records);
      if (pending.length >= this.maxChunkRecords) {
        const last = pending[pending.length - 1] as SourceRecord;
        const outcome = await this.processAndCommit(task, pending, chunkStart, last.offset + 1n, report, log);
        if (outcome.status === 'skipped') {
          if (optimistic && report.chunks === 0 && outcome.storedOffset !== range.untilOffset) return null;
          return this.overtaken(task, outcome.storedOffset, report, started);
        }
        chunkStart = last.offset + 1n;
        pending = [];
        // Long ranges must not starve heartbeats and the gRPC server of this process.
        await yieldToEventLoop();
      }
      if (signal.aborted) throw new SluiceError('SLUICE_TASK_FAILED', `task ${task.taskId} cancelled`, { retriable: true });
      fetchStarted = performance.now();
    }
    // The last chunk ends at `until`, even when the range ends in a gap (transaction marker, compaction hole).
    // When the chunks so far already reached `until` there is nothing left to commit (and the offset
    // may rightly have moved on: the next piece of a split range commits right after this one).
    if (pending.length === 0 && chunkStart === range.untilOffset) {
      report.totalMs = elapsed(started);
      return report;
    }
    const outcome = await this.processAndCommit(task, pending, chunkStart, range.untilOffset, report, log);
    if (outcome.status === 'skipped') {
      if (optimistic && report.chunks === 0 && outcome.storedOffset !== range.untilOffset) return null;
      return this.overtaken(task, outcome.storedOffset, report, started);
    }
    report.totalMs = elapsed(started);
    return report;
  }

  private async processAndCommit(
    task: Task,
    records: SourceRecord[],
    fromOffset: bigint,
    untilOffset: bigint,
    report: TaskReport,
    logger: () => Logger
  ): Promise<CommitOutcome> {
    const context: ProcessContext = {
      job: this.jobName,
      batchId: task.batchId,
      topic: task.range.topic,
      partition: task.range.partition,
      fromOffset,
      untilOffset,
      attempt: task.attempt,
      get logger() {
        return logger();
      },
    };
    const processStarted = performance.now();
    // decode + process under the poison policy; dead letters (if any) are added before the commit below,
    // only while the chunk is inside the stored plan (the commit script checks the rest atomically).
    const poison: PoisonSettings = {
      ...this.poison,
      deadLetter: async (letters) => {
        await this.store.checkInPlan(task.batchId, { ...task.range, fromOffset, untilOffset });
        await this.poison.deadLetter(letters);
      },
    };
    const { outputs } = await processChunk(this.job, records, context, poison, task.failures ?? task.attempt);
    report.processMs += elapsed(processStarted);

    const bytes = recordBytes(records);
    const commitStarted = performance.now();
    const commitChunk = (until: bigint, writes: RedisWrite[], counts: { records: number; bytes: number }): Promise<CommitOutcome> =>
      this.store.commitChunk({
        batchId: task.batchId,
        epoch: task.epoch,
        tp: task.range,
        from: fromOffset,
        until,
        writes,
        taskFrom: task.range.fromOffset,
        mayStage: task.mayStage,
        ...counts,
      });
    const committer: ChunkCommitter = {
      context,
      epoch: task.epoch,
      commit: (writes: RedisWrite[]) => commitChunk(untilOffset, writes, { records: records.length, bytes }),
      // The records before `until` count for the batch: this attempt carries them over for the one that wrote them.
      commitUpTo: (until: bigint) => {
        const before = records.filter((r) => r.offset < until);
        return commitChunk(until, [], { records: before.length, bytes: recordBytes(before) });
      },
    };
    const outcome = await this.job.sink.commit(outputs, committer);
    report.commitMs += elapsed(commitStarted);
    if (outcome.status === 'staged') report.status = 'STAGED';
    if (outcome.status !== 'skipped') {
      report.chunks++;
      report.records += records.length;
      report.bytes += bytes;
      this.onChunkCommitted(records.length, bytes);
    }
    return outcome;
  }

  /** Another attempt moved the offset while this one ran: done if it reached the end, else let the driver retry. */
  private overtaken(task: Task, storedOffset: bigint | null, report: TaskReport, started: number): TaskReport {
    if (storedOffset === task.range.untilOffset)
      return { ...report, status: report.chunks > 0 ? 'COMMITTED' : 'ALREADY_COMMITTED', totalMs: elapsed(started) };
    throw new SluiceError(
      'SLUICE_CHECKPOINT_CONFLICT',
      `task ${task.taskId}: another attempt moved the checkpoint to ${storedOffset ?? 'none'}`,
      { retriable: true }
    );
  }
}

/** Key and value bytes of records. */
function recordBytes(records: SourceRecord[]): number {
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SourceRecord;
    bytes += (r.value === null ? 0 : r.value.length) + (r.key === null ? 0 : r.key.length);
  }
  return bytes;
}

const elapsed = (since: number): number => Math.round(performance.now() - since);
