import type { RedisWrite } from '../job/types';
import type { OffsetRange, TopicPartition } from '../kafka/types';

/* What the checkpoint store stores and commits: plans, chunk commits and the batch history. */

/** The plan of one batch, persisted before dispatch and replayed unchanged after a crash. */
export interface BatchPlan {
  id: number;
  epoch: string;
  /** Wall-clock time the batch was due (ms since the epoch), as Spark's batch time. */
  time: number;
  ranges: OffsetRange[];
  /**
   * Checkpoints this plan moves forward before any task runs because their records are gone
   * (`failOnDataLoss = false`); each range's `fromOffset` is then the skip's `from`.
   */
  skips?: OffsetSkip[];
}

/**
 * A checkpoint the plan moves before any task runs, because the records it points to are gone
 * (`failOnDataLoss = false`): the write-plan script sets the stored offset from `checkpoint` to
 * `from` (compare-and-set), and the batch history counts `lost`.
 */
export interface OffsetSkip extends TopicPartition {
  /** The stored offset the planner saw: the script moves it only from exactly this value. */
  checkpoint: bigint;
  /** The new stored offset: the partition's earliest offset. */
  from: bigint;
  /** Records lost: `earliest - checkpoint` for retention; 0 (unknown) for a reset. */
  lost: bigint;
  /** `retention`: checkpoint below the log start; `reset`: beyond the latest offset (topic recreated). */
  reason: 'retention' | 'reset';
}

/** What the history keeps per committed batch (the `batches` stream). */
export interface BatchSummary {
  id: number;
  epoch: string;
  time: number;
  records: number;
  bytes: number;
  /** Due time to the start of planning: how long the batch waited for the previous one. */
  schedulingDelayMs: number;
  /** Partition discovery, offsets and writing the plan. */
  planMs: number;
  /** Dispatch to the last task committed. */
  processingMs: number;
  /** Due time to the last task committed. */
  totalDelayMs: number;
  /** Records skipped because they were gone before they could be read (`failOnDataLoss = false`). */
  lostRecords?: number;
  /** Non-empty ranges only, with the executor and attempt that committed each. */
  ranges: Array<{
    topic: string;
    partition: number;
    from: string;
    until: string;
    records: number;
    executor: string;
    attempt: number;
    durationMs: number;
    /** With speculation: whether the committing attempt was the speculative copy. */
    speculative?: boolean;
    /** With speculation: the attempts that ran side by side, which one won. */
    copies?: Array<{ executor: string; attempt: number; speculative: boolean; outcome: 'won' | 'lost' }>;
  }>;
}

export type ChunkCommitResult = { status: 'committed' } | { status: 'staged' } | { status: 'skipped'; storedOffset: bigint | null };

/** The batch a task belongs to, as its driver sent it: its commits apply only inside that batch's stored plan. */
export interface TaskBatch {
  batchId: number;
  epoch: string;
}

/** One chunk of a task: its writes, applied with the move of the stored offset from `from` to `until`. */
export interface ChunkCommit extends TaskBatch {
  tp: TopicPartition;
  from: bigint;
  until: bigint;
  writes: RedisWrite[];
  /** The start of the task's range: the chunk's records are counted under it (see {@link CheckpointStore.batchCounts}). */
  taskFrom: bigint;
  /** A later piece of a split range: the chunk is staged while the pieces before it are not committed. */
  mayStage?: boolean;
  /** Records the chunk covers (all it read, dead-lettered ones included) and their key and value bytes. */
  records: number;
  bytes: number;
}

/** Records and bytes committed for one task range of the planned batch, by all its attempts. */
export interface RangeCount extends TopicPartition {
  /** The start of the task's range the records were committed under. */
  from: bigint;
  records: number;
  bytes: number;
}

/** Limits of one commit script call: a larger queue of concurrent commits is sent as several calls. */
export interface CommitCallLimits {
  /** Entries (chunk commits) per call. */
  maxEntries: number;
  /** Script arguments per call (10 per entry plus 4 per write); an entry larger than this goes alone. */
  maxArgs: number;
}
