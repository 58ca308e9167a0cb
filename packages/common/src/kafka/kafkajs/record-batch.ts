/**
 * Kafka's v2 RecordBatch format (KIP-98, magic 2), decoded straight into {@link SourceRecord}s.
 *
 * kafkajs decodes each record into an object of decimal strings (offset and timestamp through its
 * `Long`), a header object and a shared batch context, which sluice then converted again. In a
 * throughput profile that double conversion and its garbage were most of an executor's CPU. This
 * decoder reads the wire format once: one `bigint` per offset and timestamp, keys, values and
 * header values as views of the response buffer (no copies), headers as a list in wire order.
 * Compressed batches are inflated by the codecs kafkajs knows (gzip, and those of codecs.ts).
 */
import type { RecordHeader, SourceRecord } from '../types';

/* eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs internals, pinned version (see direct-cluster.ts) */
const compression = require('kafkajs/src/protocol/message/compression') as {
  lookupCodecByAttributes(this: void, attributes: number): { decompress(buffer: Buffer): Promise<Buffer> } | null;
};

export interface RecordBatch {
  /** The first and last offset the batch was written with; compaction may have removed records anywhere in it. */
  baseOffset: bigint;
  lastOffset: bigint;
  /** The whole batch's size on the wire (what a fetch's byte limit counts). */
  sizeInBytes: number;
  producerId: bigint;
  transactional: boolean;
  /** A transaction marker (control batch): it ends the producer's transaction and holds no records for the job. */
  marker?: 'commit' | 'abort';
  /** Records below `until` (see {@link decodeRecordBatches}); empty for a marker. */
  records: SourceRecord[];
}

/** Bytes of a batch header up to and including the record count; batch fields at their offsets below. */
const HEADER_BYTES = 61;
const LENGTH_AT = 8;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const FIRST_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const RECORD_COUNT_AT = 57;
/** Everything before `partitionLeaderEpoch`: baseOffset (8) and the batch length (4). */
const LOG_OVERHEAD = 12;

const COMPRESSION_MASK = 0x07;
const LOG_APPEND_TIME_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);

/**
 * Decodes the record batches of one partition's record set, in order. Decoding stops after the
 * batch that reaches `until - 1` (the rest of the response is never needed), and records at or
 * past `until` are not decoded. A batch cut short by the fetch's byte limits ends the list.
 */
export async function decodeRecordBatches(topic: string, partition: number, set: Buffer, until: bigint): Promise<RecordBatch[]> {
  const batches: RecordBatch[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= set.length) {
    const end = at + LOG_OVERHEAD + set.readInt32BE(at + LENGTH_AT);
    if (end > set.length) break;
    const magic = set.readInt8(at + MAGIC_AT);
    if (magic !== 2) {
      throw new Error(`${topic}-${partition}: record batch with magic ${magic}; sluice reads the v2 format of Kafka 0.11 and later only`);
    }
    const attributes = set.readInt16BE(at + ATTRIBUTES_AT);
    const baseOffset = set.readBigInt64BE(at);
    const batch: RecordBatch = {
      baseOffset,
      lastOffset: baseOffset + BigInt(set.readInt32BE(at + LAST_OFFSET_DELTA_AT)),
      sizeInBytes: end - at,
      producerId: set.readBigInt64BE(at + PRODUCER_ID_AT),
      transactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
      records: [],
    };
    const count = set.readInt32BE(at + RECORD_COUNT_AT);
    let body = set.subarray(at + HEADER_BYTES, end);
    if ((attributes & COMPRESSION_MASK) !== 0 && count > 0) {
      const codec = compression.lookupCodecByAttributes(attributes);
      if (codec === null)
        throw new Error(`${topic}-${partition}: record batch with unknown compression codec ${attributes & COMPRESSION_MASK}`);
      body = await codec.decompress(body);
    }
    const records = new RecordReader(body);
    if ((attributes & CONTROL_FLAG) !== 0) {
      // The marker's key: version int16, type int16 (0 = abort, 1 = commit).
      const key = count > 0 ? records.controlKey() : null;
      batch.marker = key !== null && key.readInt16BE(2) === 1 ? 'commit' : 'abort';
    } else {
      const appendTime = (attributes & LOG_APPEND_TIME_FLAG) !== 0 ? set.readBigInt64BE(at + MAX_TIMESTAMP_AT) : null;
      const firstTimestamp = set.readBigInt64BE(at + FIRST_TIMESTAMP_AT);
      for (let i = 0; i < count; i++) {
        const record = records.next(topic, partition, baseOffset, firstTimestamp, appendTime);
        if (record.offset >= until) break;
        batch.records.push(record);
      }
    }
    batches.push(batch);
    at = end;
    if (batch.lastOffset >= until - 1n) break;
  }
  return batches;
}

/** Reads the records of one batch body in order (Kafka's record v2: zig-zag varints, KIP-82 headers). */
class RecordReader {
  private at = 0;
  /** Records of a batch mostly share their timestamp: the last one is reused rather than allocated again. */
  private lastTimestampDelta = Number.NaN;
  private lastTimestamp = 0n;

  constructor(private readonly buffer: Buffer) {}

  next(topic: string, partition: number, baseOffset: bigint, firstTimestamp: bigint, appendTime: bigint | null): SourceRecord {
    this.varint(); // length
    this.at++; // attributes (unused)
    const timestampDelta = this.varlong();
    const offsetDelta = this.varint();
    const key = this.bytes();
    const value = this.bytes();
    const headerCount = this.varint();
    let headers = NO_HEADERS;
    if (headerCount > 0) {
      const list: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        const keyLength = this.varint();
        const headerKey = this.buffer.toString('utf8', this.at, this.at + keyLength);
        this.at += keyLength;
        list.push({ key: headerKey, value: this.bytes() });
      }
      headers = list;
    }
    return {
      topic,
      partition,
      offset: baseOffset + BigInt(offsetDelta),
      timestamp: appendTime ?? this.timestamp(firstTimestamp, timestampDelta),
      key,
      value,
      headers,
    };
  }

  private timestamp(first: bigint, delta: number): bigint {
    if (delta !== this.lastTimestampDelta) {
      this.lastTimestampDelta = delta;
      this.lastTimestamp = first + BigInt(delta);
    }
    return this.lastTimestamp;
  }

  /** The key of the first record (a control batch's marker type). */
  controlKey(): Buffer | null {
    this.varint();
    this.at++;
    this.varlong();
    this.varint();
    return this.bytes();
  }

  /** A length-prefixed byte string as a view of the buffer; length -1 is null. */
  private bytes(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    const out = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  /** A zig-zag varint of at most 32 bits. */
  private varint(): number {
    let value = 0;
    let shift = 0;
    let byte: number | undefined;
    do {
      byte = this.buffer[this.at++];
      if (byte === undefined) throw new RangeError('record batch truncated inside a varint');
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 35);
    return (value >>> 1) ^ -(value & 1);
  }

  /** A zig-zag varlong; exact up to 2^53 in magnitude, far beyond any timestamp delta. */
  private varlong(): number {
    let value = 0;
    let scale = 1;
    let byte: number | undefined;
    do {
      byte = this.buffer[this.at++];
      if (byte === undefined) throw new RangeError('record batch truncated inside a varlong');
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80 && scale <= 2 ** 63);
    return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
  }
}
