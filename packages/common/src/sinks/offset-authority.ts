import { CheckpointConflictError } from '../errors';
import type { ChunkCommitter, CommitOutcome } from '../job/types';

/*
 * Sinks whose own store holds each partition's offset (postgresSink: a table; kafkaSink: the job's
 * consumer group) are the authority for it: the Redis checkpoint follows the store forward. These
 * are the two answers such a sink gives when the store is not at the chunk's start.
 */

/**
 * The store is already past the chunk's start (an earlier attempt, or a commit whose Redis half
 * was lost): nothing is written, and the Redis checkpoint follows the store.
 */
export async function followStoredOffset(committer: ChunkCommitter, stored: bigint): Promise<CommitOutcome> {
  // The whole chunk is in the store: Redis follows (a no-op when it is there already).
  if (stored >= committer.context.untilOffset) return committer.commit([]);
  // An earlier attempt committed the first part of this chunk (its chunks ended elsewhere):
  // Redis follows to there, and the attempt resumes from it.
  const outcome = committer.commitUpTo ? await committer.commitUpTo(stored) : undefined;
  return { status: 'skipped', storedOffset: outcome?.status === 'skipped' ? outcome.storedOffset : stored };
}

/** The store is behind the chunk's start: writing would leave a gap. `store` names where the offset is kept. */
export function storedOffsetGap(sink: string, store: string, committer: ChunkCommitter, stored: bigint | null): CheckpointConflictError {
  const { topic, partition, fromOffset, untilOffset } = committer.context;
  return new CheckpointConflictError(
    `${sink}: ${topic}-${partition}: the sink's offset (${store}) is ${stored ?? 'none'}, ` +
      `expected ${fromOffset} (the chunk [${fromOffset}, ${untilOffset}) would leave a gap); ` +
      'the Redis checkpoint is ahead of the sink, which is the authority for this job',
    { topic, partition, stored: stored === null ? null : String(stored), expected: String(fromOffset) }
  );
}
