import type { WireBlock } from '../grpc/proto';
import type { BlockInfo } from './blocks';

/** Receiver, block and executor ids: what may appear in a Redis key name and a log line. */
export const receiverIdPattern = /^[A-Za-z0-9._-]{1,200}$/;
const entryPattern = /^(\d{1,20}-\d{1,20})?$/;
const countPattern = /^\d{1,19}$/;
const topicPattern = /^[A-Za-z0-9._-]{1,249}$/;
const idPattern = receiverIdPattern;

export function toWireBlock(block: BlockInfo): WireBlock {
  return {
    block_id: block.id,
    receiver_id: block.receiver,
    executor_id: block.executor,
    wal_entry: block.wal,
    records: String(block.records),
    bytes: String(block.bytes),
    ranges: block.ranges.map((r) => ({ topic: r.topic, partition: r.partition, from_offset: r.from, until_offset: r.until })),
    range_records: block.ranges.map((r) => String(r.records)),
    log_bytes: String(block.logBytes),
  };
}

/** A block as it arrives over gRPC, checked field by field. */
export function fromWireBlock(b: WireBlock, invalid: (why: string) => Error): BlockInfo {
  if (!idPattern.test(b.block_id) || !idPattern.test(b.receiver_id) || !idPattern.test(b.executor_id))
    throw invalid('malformed block, receiver or executor id');
  if (!entryPattern.test(b.wal_entry)) throw invalid(`block ${b.block_id}: '${b.wal_entry.slice(0, 60)}' is not a log entry id`);
  if (!countPattern.test(String(b.records)) || !countPattern.test(String(b.bytes)) || !countPattern.test(String(b.log_bytes)))
    throw invalid(`block ${b.block_id}: malformed counts`);
  if (
    !Array.isArray(b.ranges) ||
    b.ranges.length > 100_000 ||
    !Array.isArray(b.range_records) ||
    b.range_records.length !== b.ranges.length
  ) {
    throw invalid(`block ${b.block_id}: malformed ranges`);
  }
  const ranges = b.ranges.map((r, i) => {
    const records = String(b.range_records[i]);
    if (!countPattern.test(records)) throw invalid(`block ${b.block_id}: malformed range counts`);
    if (!topicPattern.test(r.topic) || !Number.isInteger(r.partition) || r.partition < 0)
      throw invalid(`block ${b.block_id}: malformed range`);
    if (
      !countPattern.test(String(r.from_offset)) ||
      !countPattern.test(String(r.until_offset)) ||
      BigInt(r.from_offset) > BigInt(r.until_offset)
    ) {
      throw invalid(`block ${b.block_id}: invalid range [${String(r.from_offset).slice(0, 30)}, ${String(r.until_offset).slice(0, 30)})`);
    }
    return { topic: r.topic, partition: r.partition, from: String(r.from_offset), until: String(r.until_offset), records: Number(records) };
  });
  return {
    id: b.block_id,
    receiver: b.receiver_id,
    executor: b.executor_id,
    wal: b.wal_entry,
    records: Number(b.records),
    bytes: Number(b.bytes),
    logBytes: Number(b.log_bytes),
    ranges,
  };
}
