import type { RecordBatch } from './record-batch';

/** Per partition: the bytes per offset of the batches read last, and the largest batch seen. */
export interface BatchSizes {
  bytesPerOffset: number;
  largestBatch: number;
}

/**
 * A partition's byte limit for a fetch with `left` offsets of its range to go: room for that many
 * offsets at the partition's last bytes per offset, plus twice its largest batch (a range's first
 * and last offsets can sit in two batches), at most `partitionMaxBytes`. The broker returns whole
 * batches up to the limit, so without it a rate-limited range in a backlog (one record per
 * partition) fetched `partitionMaxBytes` per partition and used one batch of it. Before anything
 * is known of the partition, the limit is `partitionMaxBytes`.
 */
export function partitionFetchBytes(sizes: BatchSizes | undefined, left: bigint, partitionMaxBytes: number): number {
  if (sizes === undefined || left > BigInt(partitionMaxBytes)) return partitionMaxBytes;
  const wanted = Math.ceil(Number(left) * sizes.bytesPerOffset + 2 * sizes.largestBatch);
  return Math.min(partitionMaxBytes, wanted);
}

export function learnBatchSizes(known: Map<string, BatchSizes>, key: string, batches: RecordBatch[]): void {
  if (batches.length === 0) return;
  let bytes = 0;
  let largest = known.get(key)?.largestBatch ?? 0;
  for (const b of batches) {
    bytes += b.sizeInBytes;
    if (b.sizeInBytes > largest) largest = b.sizeInBytes;
  }
  const first = batches[0] as RecordBatch;
  const last = batches[batches.length - 1] as RecordBatch;
  known.set(key, { bytesPerOffset: bytes / Number(last.lastOffset - first.baseOffset + 1n), largestBatch: largest });
}
