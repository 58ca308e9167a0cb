/**
 * The pure part of the range reader (kafka-client.md §5): turn one fetch response for one
 * partition into the records to emit and the next offset to fetch. No I/O, so it is unit-tested
 * with synthetic fetch responses through the real kafkajs `batch.js`.
 */
import type { Isolation, OffsetRange, RecordHeader, SourceRecord } from '../types';
import { KafkajsBatch, type KafkajsFetchPartition, type KafkajsMessage } from './direct-cluster';

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
 * Applies one fetch response to a read of `range` positioned at `next`.
 *
 * Filtering (records below `next`, aborted transactions, control records) is kafkajs's own
 * `Batch` when the response lists aborted transactions, and the same two filters inline otherwise
 * (kafkajs's aborted-transaction filter is the identity then); the advance is Java's `batch.nextOffset()` rule over the *unfiltered* records, so
 * compaction holes and transaction markers never stall the reader.
 */
export function applyFetch(range: OffsetRange, next: bigint, partition: KafkajsFetchPartition, isolation: Isolation): FetchStep {
  const { topic } = range;
  const partitionId = range.partition;
  const until = range.untilOffset;
  const raw = partition.messages;
  const records: SourceRecord[] = [];

  // Hot path (one iteration per record): one BigInt per offset and timestamp, no intermediate arrays.
  if (partition.abortedTransactions === undefined || partition.abortedTransactions.length === 0) {
    // Without aborted transactions kafkajs's Batch only drops records below `next` and control
    // records; doing that here saves it a Long parse and three array copies per record.
    for (let i = 0; i < raw.length; i++) {
      const m = raw[i] as KafkajsMessage;
      if (m.isControlRecord === true) continue;
      const offset = BigInt(m.offset);
      if (offset < next) continue;
      // The broker returns whole batches, past `until` too.
      if (offset >= until) break;
      records.push(toSourceRecord(topic, partitionId, m, offset));
    }
  } else {
    const batch = new KafkajsBatch(topic, next.toString(), partition);
    for (const m of batch.messages) {
      const offset = BigInt(m.offset);
      // Batch only guarantees offset >= next; the broker returns whole batches past `until` too.
      if (offset >= until) break;
      records.push(toSourceRecord(topic, partitionId, m, offset));
    }
  }

  // A batch's last offset survives compaction and covers records kafkajs never shows (an empty
  // batch aside, which its decoder drops entirely; see the visible-end rule). The decoder shares
  // one batchContext object between the records of a RecordBatch, and offsets ascend within it,
  // so the end is computed once per RecordBatch from its last record, not once per record.
  let last = -1n;
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i] as KafkajsMessage;
    const following = raw[i + 1];
    if (following !== undefined && following.batchContext === m.batchContext && m.batchContext !== undefined) continue;
    const offset = BigInt(m.offset);
    if (offset > last) last = offset;
    const ctx = m.batchContext as KafkajsMessage['batchContext'] | undefined;
    if (ctx !== undefined) {
      const batchEnd = BigInt(ctx.firstOffset) + BigInt(ctx.lastOffsetDelta);
      if (batchEnd > last) last = batchEnd;
    }
    // The range is done: the batches after this one (a response may hold many) need no look.
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

function visibleEnd(p: KafkajsFetchPartition, isolation: Isolation): bigint {
  const hwm = BigInt(p.highWatermark);
  if (isolation !== 'read_committed') return hwm;
  const lso = BigInt(p.lastStableOffset);
  // -1 means the broker did not report an LSO (old message format); fall back to the HWM.
  return lso >= 0n ? lso : hwm;
}

/** Converts one kafkajs message at the edge: string offsets and timestamps become bigint, headers a flat list. */
export function toSourceRecord(topic: string, partition: number, m: KafkajsMessage, offset?: bigint): SourceRecord {
  return {
    topic,
    partition,
    offset: offset ?? BigInt(m.offset),
    timestamp: BigInt(m.timestamp),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: toHeaders(m.headers),
  };
}

/** Shared by every record without headers: one allocation less per record on the hot path. */
const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);

/** kafkajs folds duplicate header keys into an array; every value is kept, in wire order per key. */
export function toHeaders(headers: KafkajsMessage['headers']): readonly RecordHeader[] {
  if (headers === undefined) return NO_HEADERS;
  let out: RecordHeader[] | undefined;
  // `for in` over the decoder's plain object: no entries array per record (most records have no headers).
  for (const key in headers) {
    const value = headers[key];
    out ??= [];
    if (Array.isArray(value)) {
      for (const v of value) out.push({ key, value: v ?? null });
    } else {
      out.push({ key, value: value ?? null });
    }
  }
  return out ?? NO_HEADERS;
}
