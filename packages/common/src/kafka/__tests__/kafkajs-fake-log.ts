/**
 * A fake single-partition Kafka log for unit tests: record batches are encoded with kafkajs's own
 * RecordBatch encoder into a Fetch v11 response, which its broker hands to the reader's response
 * decoder through the same kafkajs internals a real broker offers (`lookupRequest` and the private
 * send), so the reader decodes exactly what a broker would send.
 */
import type { DirectBroker, DirectCluster } from '../kafkajs/direct-cluster';
import type { FetchRequest } from '../kafkajs/fetch-response';
import type { KafkaClientConfig, OffsetRange } from '../types';

/* eslint-disable @typescript-eslint/no-require-imports */
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number): unknown };
const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeInt16(n: number): unknown;
  writeInt32(n: number): unknown;
  writeInt64(n: number | string): unknown;
  writeString(s: string): unknown;
  writeBuffer(b: Buffer): unknown;
  buffer: Buffer;
};
const fetchV11Response = require('kafkajs/src/protocol/requests/fetch/v11/response') as {
  decode(raw: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
};
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (opts: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (opts: Record<string, unknown>) => unknown;
const { KafkaJSProtocolError, KafkaJSOffsetOutOfRange } = require('kafkajs') as {
  KafkaJSProtocolError: new (e: unknown) => Error;
  KafkaJSOffsetOutOfRange: new (e: unknown, meta: unknown) => Error;
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

/** The Kafka settings the unit tests read a fake log with. */
export const fakeLogReaderConfig: KafkaClientConfig = {
  brokers: ['fake:9092'],
  clientId: 'unit',
  isolation: 'read_committed',
  connectionTimeoutMs: 1000,
  requestTimeoutMs: 5000,
  fetchMaxBytes: 1 << 20,
  partitionMaxBytes: 1 << 20,
  fetchMaxWaitMs: 10,
  retries: 3,
};

/** `[fromOffset, untilOffset)` of the fake log's partition (t-0). */
export function range(fromOffset: number, untilOffset: number): OffsetRange {
  return { topic: 't', partition: 0, fromOffset: BigInt(fromOffset), untilOffset: BigInt(untilOffset) };
}

export interface FakeRecord {
  offset: number;
  /** Milliseconds after the batch's first timestamp (default 0). */
  timestampDelta?: number;
  key?: string | null;
  value?: string | null;
  headers?: Record<string, string | string[]>;
}

export interface FakeBatch {
  firstOffset: number;
  /** Default 1_700_000_000_000. */
  firstTimestamp?: number;
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
      timestampDelta: r.timestampDelta ?? 0,
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
  const firstTimestamp = b.firstTimestamp ?? 1_700_000_000_000;
  const enc = await RecordBatch({
    firstOffset: Long.fromValue(b.firstOffset),
    firstTimestamp,
    maxTimestamp: firstTimestamp + Math.max(0, ...records.map((r) => r.timestampDelta ?? 0)),
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
  /**
   * Honour each fetch's partition byte limit as a broker does for a partition that is not the first
   * of its response: whole batches up to the limit, the batch crossing it cut off (so a limit below
   * the first batch returns only a cut batch). Default: the limit is ignored.
   */
  byteLimits?: boolean;
  /**
   * With `byteLimits`: the first partition of a Fetch that has records gets its first batch whole,
   * however large, as from a broker (only the partitions after it are cut).
   */
  wholeFirstBatch?: boolean;
}

/** Producer 7: committed txn 0..2 + COMMIT marker 3; aborted txn 4..5 + ABORT marker 6; then a plain record 7. */
export const transactionalLog: FakeLogOptions = {
  batches: [
    { firstOffset: 0, records: [{ offset: 0 }, { offset: 1 }, { offset: 2 }], producerId: 7, transactional: true },
    { firstOffset: 3, records: [], producerId: 7, control: 'commit' },
    { firstOffset: 4, records: [{ offset: 4 }, { offset: 5 }], producerId: 7, transactional: true },
    { firstOffset: 6, records: [], producerId: 7, control: 'abort' },
    { firstOffset: 7, records: [{ offset: 7 }] },
  ],
  abortedTransactions: [{ producerId: 7, firstOffset: 4 }],
};

type ProtocolResponse = typeof fetchV11Response;

/** What a Fetch asks of one topic. */
interface FetchedTopic {
  topic: string;
  partitions: Array<{ partition: number; fetchOffset: number; maxBytes: number }>;
}

/** kafkajs's Broker sends requests through a method keyed by a private symbol of this description. */
const SEND_REQUEST = Symbol('private:Broker:sendRequest');

export class FakeLog {
  fetches: number[] = [];
  /** The partition byte limit of each fetch, in order. */
  fetchLimits: number[] = [];
  connects = 0;
  refreshes = 0;
  clustersCreated = 0;
  private encoded: EncodedBatch[] | undefined;
  private held: Promise<void> | undefined;
  private heldRefresh: { reached: () => void; released: Promise<void> } | undefined;

  constructor(private readonly opts: FakeLogOptions) {}

  private async batches(): Promise<EncodedBatch[]> {
    this.encoded ??= await Promise.all(this.opts.batches.map(encodeBatch));
    return this.encoded;
  }

  /** The Fetch v11 response of the broker, as bytes. */
  fetch(topic: string, partition: number, fetchOffset: number, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
    return this.fetchAll([{ topic, partitions: [{ partition, fetchOffset, maxBytes }] }]);
  }

  /** The Fetch v11 response to a request for several partitions, each answered from this log. */
  async fetchAll(topics: FetchedTopic[]): Promise<Buffer> {
    for (const { fetchOffset, maxBytes } of topics.flatMap((t) => t.partitions)) {
      this.fetches.push(fetchOffset);
      this.fetchLimits.push(maxBytes);
    }
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) await held;
    const failure = this.opts.failures?.shift();
    if (failure !== undefined) throw new KafkaJSProtocolError(createErrorFromCode(6));
    const all = await this.batches();
    const hwm = this.opts.highWatermark ?? (all.length > 0 ? (all[all.length - 1]?.last ?? -1) + 1 : 0);
    const lso = this.opts.lastStableOffset ?? hwm;
    let wholeFirstBatch = this.opts.wholeFirstBatch === true;
    const out = new Encoder();
    out.writeInt32(0); // throttle_time_ms
    out.writeInt16(0); // error_code
    out.writeInt32(0); // session_id
    out.writeInt32(topics.length);
    for (const { topic, partitions } of topics) {
      out.writeString(topic);
      out.writeInt32(partitions.length);
      for (const { partition, fetchOffset, maxBytes } of partitions) {
        if (fetchOffset < (this.opts.logStartOffset ?? 0) || fetchOffset > hwm) {
          throw new KafkaJSOffsetOutOfRange(createErrorFromCode(1), { topic, partition });
        }
        // Like the broker: whole batches, starting with the one that contains fetchOffset, up to the LSO.
        const selected = all
          .filter((b) => b.last >= fetchOffset && b.first < lso)
          .slice(0, this.opts.batchesPerFetch ?? Number.MAX_SAFE_INTEGER);
        const lastReturned = selected.length > 0 ? (selected[selected.length - 1]?.last ?? -1) : -1;
        const aborted = (this.opts.abortedTransactions ?? []).filter((t) => t.firstOffset <= lastReturned);
        const whole = Buffer.concat(selected.map((b) => b.bytes));
        const limit = wholeFirstBatch ? Math.max(maxBytes, selected[0]?.bytes.length ?? 0) : maxBytes;
        const records = this.opts.byteLimits === true ? whole.subarray(0, limit) : whole;
        if (records.length > 0) wholeFirstBatch = false;
        out.writeInt32(partition);
        out.writeInt16(0);
        out.writeInt64(hwm);
        out.writeInt64(lso);
        out.writeInt64(this.opts.logStartOffset ?? 0);
        out.writeInt32(aborted.length);
        for (const t of aborted) {
          out.writeInt64(t.producerId);
          out.writeInt64(t.firstOffset);
        }
        out.writeInt32(-1); // preferred_read_replica
        out.writeInt32(records.length);
        out.writeBuffer(records);
      }
    }
    return out.buffer;
  }

  /** The next fetch is answered only once the returned function is called (a connection that hangs). */
  holdNextFetch(): () => void {
    let release = (): void => undefined;
    this.held = new Promise((resolve) => (release = resolve));
    return release;
  }

  /** The next metadata refresh (if necessary) waits until released; `reached` resolves once it started. */
  holdNextRefresh(): { reached: Promise<void>; release: () => void } {
    let release = (): void => undefined;
    let reached = (): void => undefined;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.heldRefresh = { reached, released: new Promise((resolve) => (release = resolve)) };
    return { reached: reachedPromise, release };
  }

  /** A fake kafkajs Cluster whose only broker serves this log. */
  cluster(): DirectCluster {
    this.clustersCreated++;
    const send = async (protocolRequest: { request: { args: FetchRequest }; response: ProtocolResponse }): Promise<unknown> => {
      const { topics } = protocolRequest.request.args;
      if (!topics.some((t) => t.partitions.length > 0)) throw new TypeError('empty fetch');
      const raw = await this.fetchAll(
        topics.map(({ topic, partitions }) => ({
          topic,
          partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: Number(p.fetchOffset), maxBytes: p.maxBytes })),
        }))
      );
      return protocolRequest.response.parse(await protocolRequest.response.decode(raw));
    };
    // The two kafkajs Broker internals the reader's fetch uses; the request's response decoder is the reader's.
    const brokerPrototype = { [SEND_REQUEST]: send };
    const broker = Object.assign(Object.create(brokerPrototype) as object, {
      lookupRequest: () => (args: FetchRequest) => ({ request: { apiVersion: 11, args }, response: fetchV11Response }),
      offsetCommit: () => Promise.resolve({}),
      offsetFetch: () => Promise.resolve({ responses: [] }),
      metadata: () => Promise.resolve({ brokers: [], topicMetadata: [] }),
      listOffsets: () => Promise.resolve({ responses: [] }),
    }) as DirectBroker;
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
      refreshMetadataIfNecessary: async () => {
        const held = this.heldRefresh;
        this.heldRefresh = undefined;
        held?.reached();
        await held?.released;
      },
      metadata: () => Promise.resolve({ brokers: [], topicMetadata: [] }),
      // Whatever partition is read, broker 1 leads it and serves this log.
      findTopicPartitionMetadata: () => Array.from({ length: 16 }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0 })),
      findBroker: () => Promise.resolve(broker),
      findGroupCoordinator: () => Promise.resolve(broker),
      targetTopics: new Set<string>(),
      isolationLevel: 1,
    };
  }
}
