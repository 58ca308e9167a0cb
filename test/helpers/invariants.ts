import type { BatchSummary } from '@sluice/common';
import type Redis from 'ioredis';
import { endOffsets } from './kafka';
import { auditCounts, checkpoint, history } from './redis';

/**
 * The exactly-once invariants, by payload id (offsets can be sparse): every expected value counted
 * exactly once, nothing unexpected. Fails naming the first offending values.
 */
export function assertExactlyOnce(counts: Map<string, number>, expected: Iterable<string>): void {
  const missing: string[] = [];
  const duplicated: string[] = [];
  const expectedSet = new Set(expected);
  for (const value of expectedSet) {
    const count = counts.get(value) ?? 0;
    if (count === 0) missing.push(value);
    else if (count > 1) duplicated.push(`${value}x${count}`);
  }
  const unexpected = [...counts.keys()].filter((value) => !expectedSet.has(value));
  const problems = [
    missing.length ? `${missing.length} lost (e.g. ${missing.slice(0, 5).join(', ')})` : '',
    duplicated.length ? `${duplicated.length} duplicated (e.g. ${duplicated.slice(0, 5).join(', ')})` : '',
    unexpected.length ? `${unexpected.length} unexpected (e.g. ${unexpected.slice(0, 5).join(', ')})` : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`exactly-once violated: ${problems.join('; ')} of ${expectedSet.size} values`);
}

/**
 * Per partition, committed ranges are contiguous and non-overlapping from the first batch to the
 * last: each range starts where the previous one of that partition ended. Returns the end per partition.
 */
export function assertContiguous(batches: BatchSummary[], start: Record<string, string> = {}): Record<string, string> {
  const end: Record<string, string> = { ...start };
  const ids = batches.map((b) => b.id);
  ids.forEach((id, i) => {
    if (i > 0 && id !== (ids[i - 1] as number) + 1) throw new Error(`batch ids not consecutive: ${ids[i - 1]} then ${id}`);
  });
  for (const batch of batches) {
    for (const r of batch.ranges) {
      const key = `${r.topic}:${r.partition}`;
      const previous = end[key];
      if (previous !== undefined && previous !== r.from) {
        throw new Error(`batch ${batch.id}: ${key} starts at ${r.from} but the previous range ended at ${previous}`);
      }
      if (BigInt(r.until) <= BigInt(r.from)) throw new Error(`batch ${batch.id}: empty or inverted range ${key} [${r.from}, ${r.until})`);
      end[key] = r.until;
    }
  }
  return end;
}

/** The committed ranges of every partition run contiguously from offset 0 to exactly its end offset. */
export function assertRangesCoverFromZero(batches: BatchSummary[], ends: Record<string, string>): void {
  const reached = assertContiguous(batches, Object.fromEntries(Object.keys(ends).map((key) => [key, '0'])));
  if (JSON.stringify(reached, Object.keys(ends).sort()) !== JSON.stringify(ends, Object.keys(ends).sort())) {
    throw new Error(`ranges end at ${JSON.stringify(reached)}, expected ${JSON.stringify(ends)}`);
  }
}

/**
 * An audit job (named after its topic) that ran to the topic's end, checked as its user would:
 * every value counted exactly once, the checkpoint at the end offsets, and the committed ranges
 * contiguous from offset 0 to them. Returns the batch history for further checks.
 */
export async function assertFinishedExactlyOnce(client: Redis, topic: string, values: Iterable<string>): Promise<BatchSummary[]> {
  assertExactlyOnce(await auditCounts(client, topic), values);
  const ends = await endOffsets(topic);
  expect(await checkpoint(client, topic)).toEqual(ends);
  const batches = await history(client, topic);
  assertRangesCoverFromZero(batches, ends);
  return batches;
}
