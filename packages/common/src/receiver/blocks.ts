import type { RecordHeader, SourceRecord } from '../kafka/types';

/**
 * Receiver mode's unit of data: the records one receiver received during one block interval
 * (docs/receiver-mode.md). The driver's block log holds a block's description; its records live in
 * the receiving executor's memory and, with the write-ahead log, in a Redis Stream entry.
 */
export interface BlockInfo {
  /** `<receiver>.<incarnation>.<sequence>`: unique across restarts of the receiver. */
  id: string;
  receiver: string;
  /** The executor that received it (and holds its records in memory). */
  executor: string;
  /** Its write-ahead log entry id, or '' without the log. */
  wal: string;
  records: number;
  /** Key and value bytes of its records. */
  bytes: number;
  /** Bytes of its write-ahead log entry (0 without the log). */
  logBytes: number;
  /** Per partition, the offsets it covers: `[from, until)` (until = last offset + 1). */
  ranges: Array<{ topic: string; partition: number; from: string; until: string; records: number }>;
}

/** The offsets a block covers, per partition. */
export function blockRanges(records: SourceRecord[]): BlockInfo['ranges'] {
  const ranges = new Map<string, BlockInfo['ranges'][number]>();
  for (const r of records) {
    const key = `${r.topic}:${r.partition}`;
    const until = String(r.offset + 1n);
    const range = ranges.get(key);
    if (range) {
      range.until = until;
      range.records++;
    } else ranges.set(key, { topic: r.topic, partition: r.partition, from: String(r.offset), until, records: 1 });
  }
  return [...ranges.values()];
}

/** Key and value bytes, as the direct approach counts them. */
export function blockBytes(records: readonly SourceRecord[]): number {
  let bytes = 0;
  for (const r of records) bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
  return bytes;
}

/*
 * The write-ahead log's encoding of a block's records: a table of topic names, then per record
 * topic index, partition, offset, timestamp, key, value and headers, lengths as uint32 (0xffffffff
 * for null). Compact, so the log's cost is close to the records' own size.
 */
const NULL = 0xffffffff;

export function encodeBlock(records: readonly SourceRecord[]): Buffer {
  const topics = [...new Set(records.map((r) => r.topic))];
  const topicIndex = new Map(topics.map((t, i) => [t, i]));
  const parts: Buffer[] = [];
  const u32 = (n: number): void => {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n);
    parts.push(b);
  };
  const bytes = (b: Buffer | null): void => {
    if (b === null) return u32(NULL);
    u32(b.length);
    parts.push(b);
  };
  u32(topics.length);
  for (const t of topics) bytes(Buffer.from(t, 'utf8'));
  u32(records.length);
  for (const r of records) {
    const head = Buffer.allocUnsafe(24);
    head.writeUInt32BE(topicIndex.get(r.topic) as number, 0);
    head.writeUInt32BE(r.partition, 4);
    head.writeBigInt64BE(r.offset, 8);
    head.writeBigInt64BE(r.timestamp, 16);
    parts.push(head);
    bytes(r.key);
    bytes(r.value);
    u32(r.headers.length);
    for (const h of r.headers) {
      bytes(Buffer.from(h.key, 'utf8'));
      bytes(h.value);
    }
  }
  return Buffer.concat(parts);
}

const noHeaders: readonly RecordHeader[] = Object.freeze([]);

/** @throws Error when `data` is not an encoded block (a corrupt log entry). */
export function decodeBlock(data: Buffer): SourceRecord[] {
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > data.length) throw new Error(`encoded block truncated at byte ${at}`);
    const n = data.readUInt32BE(at);
    at += 4;
    return n;
  };
  const bytes = (): Buffer | null => {
    const n = u32();
    if (n === NULL) return null;
    if (at + n > data.length) throw new Error(`encoded block truncated at byte ${at}`);
    const b = data.subarray(at, at + n);
    at += n;
    return b;
  };
  const topics = Array.from({ length: u32() }, () => (bytes() ?? Buffer.alloc(0)).toString('utf8'));
  const count = u32();
  const records: SourceRecord[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 24 > data.length) throw new Error(`encoded block truncated at byte ${at}`);
    const topic = topics[data.readUInt32BE(at)];
    if (topic === undefined) throw new Error(`encoded block names topic #${data.readUInt32BE(at)} of ${topics.length}`);
    const partition = data.readUInt32BE(at + 4);
    const offset = data.readBigInt64BE(at + 8);
    const timestamp = data.readBigInt64BE(at + 16);
    at += 24;
    const key = bytes();
    const value = bytes();
    const headerCount = u32();
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) headers.push({ key: (bytes() ?? Buffer.alloc(0)).toString('utf8'), value: bytes() });
    records.push({ topic, partition, offset, timestamp, key, value, headers: headerCount === 0 ? noHeaders : headers });
  }
  return records;
}
