import { FencedError, SluiceError } from '../errors';
import { partitionKey } from '../kafka/types';
import type { JobKeys } from './keys';
import { outsidePlanError } from './outside-plan';
import { decodeReply, type CommitChunkReply } from './replies';
import type { ScriptArg, ScriptedRedis } from './scripts';
import type { ChunkCommit, ChunkCommitResult, CommitCallLimits } from './types';
import { encodeWrites } from './write-args';

/** Sizes of one call that keep Redis responsive: a few milliseconds of script at most. */
export const defaultCommitCallLimits: CommitCallLimits = { maxEntries: 512, maxArgs: 200_000 };

/** One chunk commit waiting for the next call of the commit script. */
export interface QueuedCommit extends Omit<ChunkCommit, 'mayStage'> {
  mode: 'commit' | 'stage' | 'apply';
  /** 'apply': the sink keys the stage writes to (full key names). */
  stageKeys: string[];
}

interface Pending extends QueuedCommit {
  resolve: (result: ChunkCommitResult) => void;
  reject: (error: unknown) => void;
}

const entryArgs = (c: QueuedCommit): number => 10 + 4 * c.writes.length;

/**
 * Batches chunk commits: the commits made in one turn of the event loop (the tasks of a group) go
 * to Redis together, as few calls of commit-chunks-n.lua as the limits allow, in the order made;
 * each commit is settled on its own by its entry of the reply.
 */
export class ChunkCommitQueue {
  /** Calls of the commit script made so far and the chunk commits they carried. */
  readonly stats = { calls: 0, entries: 0 };
  private queued: Pending[] = [];

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: JobKeys,
    private readonly limits: CommitCallLimits
  ) {}

  enqueue(commit: QueuedCommit): Promise<ChunkCommitResult> {
    return new Promise((resolve, reject) => {
      // setImmediate, not a microtask: the other tasks of a group commit in this turn too, after I/O callbacks.
      if (this.queued.length === 0) setImmediate(() => this.flush());
      this.queued.push({ ...commit, resolve, reject });
    });
  }

  /** Sends the queued commits, as few calls as the limits allow, in the order they were made. */
  private flush(): void {
    const queued = this.queued;
    this.queued = [];
    let start = 0;
    while (start < queued.length) {
      let end = start + 1;
      let args = entryArgs(queued[start] as Pending);
      while (end < queued.length && end - start < this.limits.maxEntries) {
        const next = entryArgs(queued[end] as Pending);
        if (args + next > this.limits.maxArgs) break;
        args += next;
        end++;
      }
      void this.send(queued.slice(start, end));
      start = end;
    }
  }

  private async send(commits: Pending[]): Promise<void> {
    let replies: CommitChunkReply[];
    // Everything inside the try: called without await (from flush), a throw would be an unhandled rejection.
    try {
      const keys = [this.keys.offsets, this.keys.epoch, this.keys.stages, this.keys.planned, this.keys.counts];
      const sinkKeys = { keys, keyIndex: new Map<string, number>(), outputKey: (key: string) => this.keys.output(key) };
      // One argument list, passed as one array (ioredis flattens it): spreading a chunk with tens of
      // thousands of distinct outputs into a call would overflow the stack.
      const args: ScriptArg[] = [String(commits.length)];
      for (const c of commits) {
        args.push(
          partitionKey(c.tp),
          String(c.from),
          String(c.until),
          c.epoch,
          String(c.batchId),
          c.mode,
          String(c.taskFrom),
          String(c.records),
          String(c.bytes),
          String(c.writes.length)
        );
        encodeWrites(c.writes, sinkKeys, args);
        for (const key of c.stageKeys) {
          if (sinkKeys.keyIndex.has(key)) continue;
          keys.push(key);
          sinkKeys.keyIndex.set(key, keys.length);
        }
      }
      this.stats.calls++;
      this.stats.entries += commits.length;
      replies = decodeReply.commitChunks(await this.redis.commitChunks(keys.length, keys, args), commits.length);
    } catch (e) {
      for (const c of commits) c.reject(e);
      return;
    }
    commits.forEach((c, i) => {
      try {
        c.resolve(chunkResult(c, replies[i] as CommitChunkReply));
      } catch (e) {
        c.reject(e);
      }
    });
  }
}

/** One entry's reply of the commit script as the caller's result, or its error. */
function chunkResult(c: QueuedCommit, reply: CommitChunkReply): ChunkCommitResult {
  switch (reply.status) {
    case 'fenced':
      throw new FencedError(BigInt(c.epoch), reply.currentEpoch);
    case 'outside-plan':
      throw outsidePlanError(c.batchId, c.tp, c.from, BigInt(reply.until), reply.plannedId, reply.plannedRange);
    case 'invalid':
      throw new SluiceError(
        'SLUICE_PROCESS_FAILED',
        `${partitionKey(c.tp)} [${c.from}, ${c.until}): sink output cannot be applied: ${reply.reason}`,
        { details: { topic: c.tp.topic, partition: c.tp.partition, from: String(c.from), until: String(c.until) } }
      );
    case 'committed':
      return { status: 'committed' };
    case 'staged':
      return { status: 'staged' };
    case 'skipped':
      return { status: 'skipped', storedOffset: reply.stored === null ? null : BigInt(reply.stored) };
  }
}
