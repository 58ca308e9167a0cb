import { TaskOutsidePlanError } from '../errors';
import { partitionKey, type TopicPartition } from '../kafka/types';

/**
 * Why `[from, until)` is not inside the stored plan, given the planned batch's id and the partition's
 * planned range ("<from> <until>"), as the commit script decides it; undefined when it is inside.
 */
export function outsidePlan(
  batchId: number,
  plannedId: string | null,
  plannedRange: string | null,
  from: bigint,
  until: bigint
): 'batch' | 'partition' | 'range' | undefined {
  if (plannedId !== String(batchId)) return 'batch';
  if (plannedRange === null) return 'partition';
  const [plannedFrom, plannedUntil] = plannedRange.split(' ').map(BigInt) as [bigint, bigint];
  return from < plannedFrom || until > plannedUntil || from > until ? 'range' : undefined;
}

export function outsidePlanError(
  batchId: number,
  tp: TopicPartition,
  from: bigint,
  until: bigint,
  plannedId: string | null,
  plannedRange: string | null
): TaskOutsidePlanError {
  const what = `batch ${batchId}: ${partitionKey(tp)} [${from}, ${until})`;
  const details = { batchId, topic: tp.topic, partition: tp.partition, from: String(from), until: String(until), plannedId, plannedRange };
  switch (outsidePlan(batchId, plannedId, plannedRange, from, until)) {
    case 'batch':
      return new TaskOutsidePlanError(
        `${what} is not in the planned batch (${plannedId === null ? 'no batch is planned' : `batch ${plannedId} is planned`})`,
        details
      );
    case 'partition':
      return new TaskOutsidePlanError(`${what} is not in the plan`, details);
    default:
      return new TaskOutsidePlanError(`${what} is outside its planned range [${plannedRange?.replace(' ', ', ')})`, details);
  }
}
