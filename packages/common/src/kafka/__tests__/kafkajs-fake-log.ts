/**
 * A fake single-partition Kafka log for unit tests: record batches are encoded with kafkajs's own
 * RecordBatch encoder and decoded by its real fetch decoder, so the reader sees exactly what a
 * Fetch v11 response would give it (batchContext, control records, empty batches dropped).
 */
import type { DirectBroker, DirectCluster, KafkajsFetchPartition, KafkajsMessage } from '../kafkajs/direct-cluster';

/* eslint-disable @typescript-eslint/no-require-imports */
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number): unknown };
const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeInt32(n: number): unknown;
  writeBuffer(b: Buffer): unknown;
  buffer: Buffer;
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (opts: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (opts: Record<string, unknown>) => unknown;
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages') as (decoder: unknown) => Promise<KafkajsMessage[]>;
const { KafkaJSProtocolError, KafkaJSOffsetOutOfRange } = require('kafkajs') as {
  KafkaJSProtocolError: new (e: unknown) => Error;
  KafkaJSOffsetOutOfRange: new (e: unknown, meta: unknown) => Error;
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

export interface FakeRecord {
  offset: number;
  key?: string | null;
  value?: string | null;
  headers?: Record<string, string | string[]>;
}

export interface FakeBatch {
  firstOffset: number;
  /** Defaults to the delta of the last record; larger when compaction removed the batch's tail. */
  lastOffsetDelta?: number;
  records: FakeRecord[];
  producerId?: number;
  transactional?: boolean;
  /** A control batch (one marker record): commit or abort of the producer's open transaction. */
  control?: 'commit' | 'abort';
}

interface EncodedBatch {
  first: number;
  last: number;
  bytes: Buffer;
}

const CONTROL_FLAG = 0x20;
const TRANSACTIONAL_FLAG = 0x10;
/** Byte position of the attributes int16 in an encoded batch: firstOffset(8) length(4) epoch(4) magic(1) crc(4). */
const ATTRIBUTES_AT = 21;

async function encodeBatch(b: FakeBatch): Promise<EncodedBatch> {
  let records: FakeRecord[] = b.records;
  if (b.control !== undefined) {
    // Control record key: version int16 0, type int16 (0 = abort, 1 = commit).
    records = [{ offset: b.firstOffset }];
  }
  const encoded = records.map((r) =>
    Record({
      offsetDelta: r.offset - b.firstOffset,
      key:
        b.control !== undefined
          ? Buffer.from([0, 0, 0, b.control === 'commit' ? 1 : 0])
          : r.key === undefined || r.key === null
            ? null
            : Buffer.from(r.key),
      value: b.control !== undefined ? Buffer.from([0, 0, 0, 0, 0, 0]) : r.value === null ? null : Buffer.from(r.value ?? `v${r.offset}`),
      headers: r.headers ?? {},
    })
  );
  const lastRecordDelta = records.length > 0 ? (records[records.length - 1]?.offset ?? b.firstOffset) - b.firstOffset : 0;
  const lastOffsetDelta = b.lastOffsetDelta ?? lastRecordDelta;
  const enc = await RecordBatch({
    firstOffset: Long.fromValue(b.firstOffset),
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_000,
    lastOffsetDelta,
    transactional: b.transactional === true || b.control !== undefined,
    producerId: Long.fromValue(b.producerId ?? -1),
    records: encoded,
  });
  const bytes = Buffer.from(enc.buffer);
  if (b.control !== undefined) {
    // kafkajs's encoder cannot produce control batches; set the flag (kafkajs does not check the CRC).
    bytes.writeInt16BE(bytes.readInt16BE(ATTRIBUTES_AT) | CONTROL_FLAG | TRANSACTIONAL_FLAG, ATTRIBUTES_AT);
  }
  return { first: b.firstOffset, last: b.firstOffset + lastOffsetDelta, bytes };
}

export interface FakeLogOptions {
  batches: FakeBatch[];
  abortedTransactions?: Array<{ producerId: number; firstOffset: number }>;
  /** Defaults to one past the last batch. */
  highWatermark?: number;
  /** Defaults to the high watermark. */
  lastStableOffset?: number;
  logStartOffset?: number;
  /** How many batches one fetch returns (small, to force several fetches). */
  batchesPerFetch?: number;
  /** Errors thrown by the next fetches, in order (e.g. a leader change). */
  failures?: Array<'NOT_LEADER_FOR_PARTITION'>;
}

/** Decodes a fetch response of `batches` through kafkajs's real decoder. */
async function decode(batches: EncodedBatch[]): Promise<KafkajsMessage[]> {
  const body = Buffer.concat(batches.map((b) => b.bytes));
  const enc = new Encoder();
  enc.writeInt32(body.length);
  enc.writeBuffer(body);
  return decodeMessages(new Decoder(enc.buffer));
}

export class FakeLog {
  fetches: number[] = [];
  connects = 0;
  refreshes = 0;
  clustersCreated = 0;
  private encoded: EncodedBatch[] | undefined;

  constructor(private readonly opts: FakeLogOptions) {}

  private async batches(): Promise<EncodedBatch[]> {
    this.encoded ??= await Promise.all(this.opts.batches.map(encodeBatch));
    return this.encoded;
  }

  async fetch(topic: string, partition: number, fetchOffset: number): Promise<KafkajsFetchPartition> {
    this.fetches.push(fetchOffset);
    const failure = this.opts.failures?.shift();
    if (failure !== undefined) throw new KafkaJSProtocolError(createErrorFromCode(6));
    const all = await this.batches();
    const hwm = this.opts.highWatermark ?? (all.length > 0 ? (all[all.length - 1]?.last ?? -1) + 1 : 0);
    const lso = this.opts.lastStableOffset ?? hwm;
    if (fetchOffset < (this.opts.logStartOffset ?? 0) || fetchOffset > hwm) {
      throw new KafkaJSOffsetOutOfRange(createErrorFromCode(1), { topic, partition });
    }
    // Like the broker: whole batches, starting with the one that contains fetchOffset, up to the LSO.
    const selected = all
      .filter((b) => b.last >= fetchOffset && b.first < lso)
      .slice(0, this.opts.batchesPerFetch ?? Number.MAX_SAFE_INTEGER);
    const lastReturned = selected.length > 0 ? (selected[selected.length - 1]?.last ?? -1) : -1;
    return {
      partition,
      errorCode: 0,
      highWatermark: String(hwm),
      lastStableOffset: String(lso),
      abortedTransactions: (this.opts.abortedTransactions ?? [])
        .filter((t) => t.firstOffset <= lastReturned)
        .map((t) => ({ producerId: String(t.producerId), firstOffset: String(t.firstOffset) })),
      messages: await decode(selected),
    };
  }

  /** A fake kafkajs Cluster whose only broker serves this log. */
  cluster(): DirectCluster {
    this.clustersCreated++;
    const broker: DirectBroker = {
      fetch: async (req) => {
        const t = req.topics[0];
        const p = t?.partitions[0];
        if (t === undefined || p === undefined) throw new TypeError('empty fetch');
        const part = await this.fetch(t.topic, p.partition, Number(p.fetchOffset));
        return { responses: [{ topicName: t.topic, partitions: [part] }] };
      },
      offsetCommit: () => Promise.resolve({}),
      metadata: () => Promise.resolve({ brokers: [], topicMetadata: [] }),
    };
    return {
      connect: () => {
        this.connects++;
        return Promise.resolve();
      },
      disconnect: () => Promise.resolve(),
      isConnected: () => true,
      getNodeIds: () => ['1'],
      refreshMetadata: () => {
        this.refreshes++;
        return Promise.resolve();
      },
      refreshMetadataIfNecessary: () => Promise.resolve(),
      metadata: () => Promise.resolve({ brokers: [], topicMetadata: [] }),
      findTopicPartitionMetadata: () => [],
      findLeaderForPartitions: (_topic, partitions) => ({ '1': partitions }),
      findBroker: () => Promise.resolve(broker),
      findGroupCoordinator: () => Promise.resolve(broker),
      fetchTopicsOffset: () => Promise.resolve([]),
      targetTopics: new Set<string>(),
      isolationLevel: 1,
    };
  }
}
