/**
 * Fetch requests whose responses are decoded only as far as the ranges being read.
 *
 * The broker answers a Fetch with whole record batches from the fetch offset up to the partition's
 * byte limit, and kafkajs decodes every record of every batch before handing the response over. A
 * range that ends early in a backlog (a rate-limited batch, one record per partition) then pays for
 * decoding up to `kafka.partitionMaxBytes` of records it never uses: at 512 partitions that was the
 * executor's largest cost. Here the record set of each partition is decoded batch by batch and
 * decoding stops after the first batch that reaches the range's last offset; the batches after it
 * are never looked at (the read is done once `next >= until`, see `applyFetch`).
 *
 * Only Fetch v11 (what kafkajs 2.2.4 negotiates with Kafka 2.3 and later) is decoded here; any
 * other version goes through kafkajs's own decoder unchanged.
 */
import type { DirectBroker, KafkajsFetchPartition, KafkajsFetchResponse, KafkajsMessage } from './direct-cluster';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs internals, pinned version (see direct-cluster.ts) */
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readString(): string;
  readBytes(size: number): Buffer;
  canReadBytes(size: number): boolean;
  readArray<T>(reader: (d: KafkajsDecoder) => T): T[];
}
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkajsDecoder;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: KafkajsDecoder
) => Promise<{ records: KafkajsMessage[] }>;
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages') as (
  decoder: KafkajsDecoder
) => Promise<KafkajsMessage[]>;
const fetchV11Response = require('kafkajs/src/protocol/requests/fetch/v11/response') as ProtocolResponse;
const { requests } = require('kafkajs/src/protocol/requests') as { requests: { Fetch: unknown } };
const { Fetch: FETCH_API_KEY } = require('kafkajs/src/protocol/requests/apiKeys') as { Fetch: number };
/* eslint-enable @typescript-eslint/no-require-imports */

interface ProtocolResponse {
  decode(raw: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}
interface ProtocolRequest {
  request: unknown;
  response: ProtocolResponse;
  requestTimeout?: number;
}
/** What kafkajs's `Broker` has beyond {@link DirectBroker}: its version lookup and its request path. */
interface BrokerInternals {
  lookupRequest(apiKey: number, definitions: unknown): (args: unknown) => ProtocolRequest;
  [sendRequest: symbol]: (request: ProtocolRequest) => Promise<unknown>;
}

export type FetchRequest = Parameters<DirectBroker['fetch']>[0];

/** A record batch's `magic` byte sits 16 bytes in; 2 is the v2 RecordBatch format (Kafka 0.11+). */
const MAGIC_OFFSET = 16;
const RECORD_BATCH_MAGIC = 2;
/** Bytes before the first record of a v2 RecordBatch. */
const RECORD_BATCH_OVERHEAD = 49;
/** `lastOffsetDelta`: baseOffset (8) + length (4) + partitionLeaderEpoch (4) + magic (1) + crc (4) + attributes (2). */
const LAST_OFFSET_DELTA_AT = 23;

/**
 * Sends `request` to `broker` and decodes each partition's records only up to `until` (by
 * `topic:partition`; partitions absent there are decoded fully). Same answer shape as `broker.fetch`.
 */
export async function fetchUntil(broker: DirectBroker, request: FetchRequest, until: Map<string, bigint>): Promise<KafkajsFetchResponse> {
  const internals = broker as unknown as BrokerInternals;
  // A broker that is not kafkajs's (the unit tests' fake log) is asked plainly.
  if (typeof internals.lookupRequest !== 'function') return broker.fetch(request);
  const protocolRequest = internals.lookupRequest(FETCH_API_KEY, requests.Fetch)({ replicaId: -1, rackId: '', ...request });
  if (protocolRequest.response !== fetchV11Response) return broker.fetch(request);
  const response: ProtocolResponse = { decode: (raw) => decodeFetchV11(raw, until), parse: (decoded) => fetchV11Response.parse(decoded) };
  return (await sendRequestOf(internals).call(internals, { ...protocolRequest, response })) as KafkajsFetchResponse;
}

let sendRequestSymbol: symbol | undefined;

/** kafkajs's `Broker[PRIVATE.SEND_REQUEST]`: the connection pool's send, which disconnects on a closed connection. */
function sendRequestOf(broker: BrokerInternals): BrokerInternals[symbol] {
  sendRequestSymbol ??= Object.getOwnPropertySymbols(Object.getPrototypeOf(broker) as object).find(
    (s) => s.description === 'private:Broker:sendRequest'
  );
  const send = sendRequestSymbol === undefined ? undefined : broker[sendRequestSymbol];
  // assertKafkajsInternals checks this at start-up already.
  if (typeof send !== 'function') throw new Error('kafkajs internals changed: Broker has no private sendRequest');
  return send;
}

/**
 * Fetch Response v11: throttle_time_ms, error_code, session_id, then per topic and partition a
 * header (partition, error_code, high_watermark, last_stable_offset, log_start_offset,
 * aborted_transactions, preferred_read_replica) and the record set.
 */
async function decodeFetchV11(raw: Buffer, until: Map<string, bigint>): Promise<unknown> {
  const decoder = new Decoder(raw);
  const clientSideThrottleTime = decoder.readInt32();
  const errorCode = decoder.readInt16();
  const sessionId = decoder.readInt32();
  const responses: KafkajsFetchResponse['responses'] = [];
  for (let t = decoder.readInt32(); t > 0; t--) {
    const topicName = decoder.readString();
    const partitions: KafkajsFetchPartition[] = [];
    for (let p = decoder.readInt32(); p > 0; p--) {
      const partition = decoder.readInt32();
      const header = {
        partition,
        errorCode: decoder.readInt16(),
        highWatermark: decoder.readInt64().toString(),
        lastStableOffset: decoder.readInt64().toString(),
        lastStartOffset: decoder.readInt64().toString(),
        abortedTransactions: decoder.readArray((d) => ({ producerId: d.readInt64().toString(), firstOffset: d.readInt64().toString() })),
        preferredReadReplica: decoder.readInt32(),
      };
      partitions.push({ ...header, messages: await decodeRecordsUntil(decoder, until.get(`${topicName}:${partition}`)) });
    }
    responses.push({ topicName, partitions });
  }
  // kafkajs's own v11 decoder reports throttling this way (KIP-219); its parse step reads these fields.
  return { throttleTime: 0, clientSideThrottleTime, errorCode, sessionId, responses };
}

/** One partition's record set, batch by batch, stopping after the batch that covers `until - 1`. */
async function decodeRecordsUntil(decoder: KafkajsDecoder, until: bigint | undefined): Promise<KafkajsMessage[]> {
  const size = decoder.canReadBytes(4) ? decoder.buffer.readInt32BE(decoder.offset) : 0;
  const magicAt = decoder.offset + 4 + MAGIC_OFFSET;
  // No range end to stop at, or a legacy message set (magic 0 or 1): kafkajs decodes it all.
  if (
    until === undefined ||
    size <= MAGIC_OFFSET ||
    !decoder.canReadBytes(4 + size) ||
    decoder.buffer.readInt8(magicAt) !== RECORD_BATCH_MAGIC
  ) {
    return decodeMessages(decoder);
  }
  decoder.readInt32();
  const recordSet = new Decoder(decoder.readBytes(size));
  const records: KafkajsMessage[] = [];
  while (recordSet.canReadBytes(RECORD_BATCH_OVERHEAD)) {
    const start = recordSet.offset;
    const lastOffset = recordSet.buffer.readBigInt64BE(start) + BigInt(recordSet.buffer.readInt32BE(start + LAST_OFFSET_DELTA_AT));
    try {
      const batch = await decodeRecordBatch(recordSet);
      for (const r of batch.records) records.push(r);
    } catch (e) {
      // The last batch of a response can be cut short by the byte limits; the next fetch starts there.
      if ((e as Error).name === 'KafkaJSPartialMessageError') break;
      throw e;
    }
    if (lastOffset >= until - 1n) break;
  }
  return records;
}
