/**
 * The pure part of the range reader (docs/internals.md, "Reading a range"): turn one fetch response for one
 * partition into the records to emit and the next offset to fetch. No I/O, so it is unit-tested
 * with record batches encoded by kafkajs's own encoder (see the fake log of the unit tests).
 */
import type { Isolation, OffsetRange, SourceRecord } from '../types';
import type { AbortedTransaction, FetchedPartition } from './fetch-response';

export interface FetchStep {
  /** Visible records with `next <= offset < until`, in offset order. */
  records: SourceRecord[];
  /**
   * Offset to fetch next: one past the last offset of everything the broker returned (records,
   * control markers, aborted records, the tail of a compacted batch), or of the first batch that
   * reaches `until` (the read is done then). Equal to the input `next` when the response held
   * nothing at or after it (an empty poll).
   */
  next: bigint;
  /** Whether `next` moved, i.e. whether this was not an empty poll. */
  progressed: boolean;
  /** The end of what this reader may see: the LSO under read_committed (when known), else the high watermark. */
  visibleEnd: bigint;
}

/**
 * Applies one fetch response to a read of `range` positioned at `next`, as Java's consumer does:
 * records below `next` and control batches are dropped, and under read_committed so are the
 * batches of aborted transactions (the response lists each aborted transaction's producer and
 * first offset; the producer's batches from there on are aborted until its abort marker). The
 * advance is the last offset of every batch returned, records or not (compaction holes,
 * transaction markers and emptied batches never stall the reader).
 */
export function applyFetch(range: OffsetRange, next: bigint, partition: FetchedPartition, isolation: Isolation): FetchStep {
  const until = range.untilOffset;
  const records: SourceRecord[] = [];
  const aborted = isolation === 'read_committed' ? [...partition.abortedTransactions].sort(byFirstOffset) : [];
  const abortedProducers = new Set<bigint>();
  let last = -1n;
  for (const batch of partition.batches) {
    if (batch.lastOffset > last) last = batch.lastOffset;
    if (batch.lastOffset < next) continue;
    let abortedBatch = false;
    if (batch.transactional && aborted.length + abortedProducers.size > 0) {
      while (aborted.length > 0 && (aborted[0] as AbortedTransaction).firstOffset <= batch.lastOffset) {
        abortedProducers.add((aborted.shift() as AbortedTransaction).producerId);
      }
      if (batch.marker === 'abort') abortedProducers.delete(batch.producerId);
      else abortedBatch = abortedProducers.has(batch.producerId);
    }
    if (!abortedBatch) {
      for (const record of batch.records) {
        // The broker returns the whole batch that contains `next`.
        if (record.offset >= next && record.offset < until) records.push(record);
      }
    }
    // The range is done: later batches (a response may hold many) need no look.
    if (last >= until - 1n) break;
  }
  const progressed = last >= next;
  return {
    records,
    next: progressed ? last + 1n : next,
    progressed,
    visibleEnd: visibleEnd(partition, isolation),
  };
}

const byFirstOffset = (a: AbortedTransaction, b: AbortedTransaction): number =>
  a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0;

function visibleEnd(p: FetchedPartition, isolation: Isolation): bigint {
  const hwm = p.highWatermark;
  if (isolation !== 'read_committed') return hwm;
  const lso = p.lastStableOffset;
  // -1 means the broker did not report an LSO (old message format); fall back to the HWM.
  return lso >= 0n ? lso : hwm;
}
