/**
 * Fetch requests sent through kafkajs's broker connection, with sluice's own response decoder.
 *
 * kafkajs decodes every record of every batch of a response into its own record objects before
 * handing it over. sluice decodes the record sets itself ({@link decodeRecordBatches}): straight
 * into SourceRecords, and only as far as the range being read. The broker answers with whole
 * batches up to the partition's byte limit, so a range that ends early in a backlog (a
 * rate-limited batch, one record per partition) used to pay for decoding records it never used;
 * at 512 partitions that was the executor's largest cost.
 *
 * Fetch v11 is what kafkajs 2.2.4 negotiates with Kafka 2.3 and later (Kafka 4 accepts v4 to v17);
 * an older broker is refused with a configuration error.
 */
import { ConfigError } from '../../errors';
import type { DirectBroker } from './direct-cluster';
import { decodeRecordBatches, type RecordBatch } from './record-batch';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs internals, pinned version (see direct-cluster.ts) */
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt16(): number;
  readInt32(): number;
  readString(): string;
  readBytes(size: number): Buffer;
  canReadBytes(size: number): boolean;
}
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkajsDecoder;
const fetchV11Response = require('kafkajs/src/protocol/requests/fetch/v11/response') as ProtocolResponse;
const { requests } = require('kafkajs/src/protocol/requests') as { requests: { Fetch: unknown } };
const { Fetch: FETCH_API_KEY } = require('kafkajs/src/protocol/requests/apiKeys') as { Fetch: number };
/* eslint-enable @typescript-eslint/no-require-imports */

interface ProtocolResponse {
  decode(raw: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}
interface ProtocolRequest {
  request: { apiVersion?: number };
  response: ProtocolResponse;
  requestTimeout?: number;
}
/** What kafkajs's `Broker` has beyond {@link DirectBroker}: its version lookup and its request path. */
interface BrokerInternals {
  lookupRequest(apiKey: number, definitions: unknown): (args: unknown) => ProtocolRequest;
  [sendRequest: symbol]: (request: ProtocolRequest) => Promise<unknown>;
}

export interface FetchRequest {
  isolationLevel: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/** One partition of a Fetch response. */
export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  /** -1 when the broker reports none. */
  lastStableOffset: bigint;
  logStartOffset: bigint;
  /** Under read_committed: the transactions aborted within the returned batches. */
  abortedTransactions: AbortedTransaction[];
  batches: RecordBatch[];
  /** Bytes of the record set the broker returned (whole batches, and a last one cut by a byte limit). */
  recordSetBytes: number;
  /** Set by the range reader: the fetch's byte limit, below `partitionMaxBytes`, cut the batch at the fetch offset. */
  cutByLimit?: boolean;
}

export interface FetchResponse {
  responses: Array<{ topicName: string; partitions: FetchedPartition[] }>;
}

/**
 * Sends `request` to `broker` (a kafkajs Broker) and decodes each partition's record batches up to
 * its range's end, `until` by `topic:partition`. Partition errors are thrown as kafkajs throws
 * them (`KafkaJSOffsetOutOfRange`, `KafkaJSProtocolError`), so the retry logic above is unchanged.
 */
export async function fetchUntil(broker: DirectBroker, request: FetchRequest, until: Map<string, bigint>): Promise<FetchResponse> {
  const internals = broker as unknown as BrokerInternals;
  const protocolRequest = internals.lookupRequest(FETCH_API_KEY, requests.Fetch)({ replicaId: -1, rackId: '', ...request });
  if (protocolRequest.response !== fetchV11Response) {
    // Not an outage to wait out: the job stops with this message once the task's attempts are spent.
    throw new ConfigError(
      `'kafka.brokers': the broker offers Fetch v${protocolRequest.request.apiVersion ?? '?'}, not v11; sluice needs Kafka 2.3 or later`
    );
  }
  const response: ProtocolResponse = {
    decode: (raw) => decodeFetchV11(raw, until),
    // kafkajs's parse throws the first partition error; it reads only topicName, partition and errorCode.
    parse: (decoded) => fetchV11Response.parse(decoded),
  };
  return (await sendRequestOf(internals).call(internals, { ...protocolRequest, response })) as FetchResponse;
}

/** kafkajs's `Broker[PRIVATE.SEND_REQUEST]`: the connection pool's send, which disconnects on a closed connection. */
function sendRequestOf(broker: BrokerInternals): BrokerInternals[symbol] {
  const symbol = Object.getOwnPropertySymbols(Object.getPrototypeOf(broker) as object).find(
    (s) => s.description === 'private:Broker:sendRequest'
  );
  const send = symbol === undefined ? undefined : broker[symbol];
  // assertKafkajsInternals checks this at start-up already.
  if (typeof send !== 'function') throw new Error('kafkajs internals changed: Broker has no private sendRequest');
  return send;
}

/**
 * Fetch Response v11: throttle_time_ms, error_code, session_id, then per topic and partition a
 * header (partition, error_code, high_watermark, last_stable_offset, log_start_offset,
 * aborted_transactions, preferred_read_replica) and the record set.
 */
export async function decodeFetchV11(raw: Buffer, until: Map<string, bigint>): Promise<unknown> {
  const decoder = new Decoder(raw);
  const clientSideThrottleTime = decoder.readInt32();
  const errorCode = decoder.readInt16();
  const sessionId = decoder.readInt32();
  const responses: FetchResponse['responses'] = [];
  // Read in place: kafkajs's readInt64 goes through its Long and a decimal string.
  const int64 = (): bigint => {
    const value = decoder.buffer.readBigInt64BE(decoder.offset);
    decoder.offset += 8;
    return value;
  };
  for (let t = decoder.readInt32(); t > 0; t--) {
    const topicName = decoder.readString();
    const partitions: FetchedPartition[] = [];
    for (let p = decoder.readInt32(); p > 0; p--) {
      const partition = decoder.readInt32();
      const header = {
        partition,
        errorCode: decoder.readInt16(),
        highWatermark: int64(),
        lastStableOffset: int64(),
        logStartOffset: int64(),
      };
      const abortedTransactions: AbortedTransaction[] = [];
      for (let a = decoder.readInt32(); a > 0; a--) abortedTransactions.push({ producerId: int64(), firstOffset: int64() });
      decoder.readInt32(); // preferred_read_replica
      const size = decoder.readInt32();
      const set = size > 0 ? decoder.readBytes(size) : Buffer.alloc(0);
      const end = until.get(`${topicName}:${partition}`);
      if (end === undefined) throw new Error(`Fetch response holds ${topicName}-${partition}, which was not asked for`);
      partitions.push({
        ...header,
        abortedTransactions,
        batches: await decodeRecordBatches(topicName, partition, set, end),
        recordSetBytes: size > 0 ? size : 0,
      });
    }
    responses.push({ topicName, partitions });
  }
  // As kafkajs's own decoder: the broker asks the client to throttle this way (KIP-219).
  return { throttleTime: 0, clientSideThrottleTime, errorCode, sessionId, responses };
}
