import { partitionKey, type CheckpointStore, type OffsetOracle, type TopicPartition } from '@sluice/common';

/**
 * What the operator commands print: text tables, and each partition's committed, earliest and
 * latest offsets with its lag (`status`, `offsets show`, and the preview of `offsets set|reset`).
 */

/** Where the offsets come from: the job's checkpoint, and Kafka (connected only when asked). */
export interface OffsetSource {
  store: Pick<CheckpointStore, 'readOffsets'>;
  oracle(): Promise<OffsetOracle>;
}

/** Left-aligned text, right-aligned numbers. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^-?\d+(\.\d+)?$/.test(String(r[i]))));
  return cells
    .map((r) =>
      r
        .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd()
    )
    .join('\n');
}

export function splitKey(key: string): TopicPartition {
  const at = key.lastIndexOf(':');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

export function sortTps<T extends TopicPartition>(tps: T[]): T[] {
  return [...tps].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

export function topicList(raw: string | undefined): string[] | undefined {
  const list = raw
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return list && list.length > 0 ? list : undefined;
}

/** Partitions of the job: those in its checkpoint (limited to `topics`), or all partitions of `topics`. */
export async function jobPartitions(s: OffsetSource, topics: string[] | undefined): Promise<TopicPartition[]> {
  const checkpointed = [...(await s.store.readOffsets()).keys()].map(splitKey);
  if (!topics) return sortTps(checkpointed);
  return sortTps(await (await s.oracle()).listPartitions(topics));
}

export interface OffsetRow extends TopicPartition {
  committed: bigint | undefined;
  earliest: bigint;
  latest: bigint;
}

export async function offsetRows(s: OffsetSource, tps: TopicPartition[]): Promise<OffsetRow[]> {
  if (tps.length === 0) return [];
  const oracle = await s.oracle();
  const [{ latest, earliest }, checkpoint] = await Promise.all([oracle.offsetBounds(tps), s.store.readOffsets()]);
  return tps.map((tp) => {
    const key = partitionKey(tp);
    return { ...tp, committed: checkpoint.get(key), earliest: earliest.get(key) ?? 0n, latest: latest.get(key) ?? 0n };
  });
}

export const lagOf = (r: OffsetRow): bigint => (r.latest > (r.committed ?? r.earliest) ? r.latest - (r.committed ?? r.earliest) : 0n);

/** A partition's offsets as `status` and `offsets show` print them (and `status --json` gives them). */
export interface PartitionOffsets {
  topic: string;
  partition: number;
  committed: string | null;
  earliest: string;
  latest: string;
  lag: string;
}

export function partitionOffsets(r: OffsetRow): PartitionOffsets {
  const committed = r.committed === undefined ? null : String(r.committed);
  return {
    topic: r.topic,
    partition: r.partition,
    committed,
    earliest: String(r.earliest),
    latest: String(r.latest),
    lag: String(lagOf(r)),
  };
}

export function offsetTable(rows: PartitionOffsets[]): string {
  return table(
    ['TOPIC', 'PARTITION', 'COMMITTED', 'EARLIEST', 'LATEST', 'LAG'],
    rows.map((p) => [p.topic, p.partition, p.committed ?? '-', p.earliest, p.latest, p.lag])
  );
}
