import { decodeRecordBatches } from '../kafkajs/record-batch';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's own encoder writes the batches under test */
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number): unknown };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (opts: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (opts: Record<string, unknown>) => unknown;
const { CompressionTypes } = require('kafkajs') as { CompressionTypes: { None: number; GZIP: number } };
/* eslint-enable @typescript-eslint/no-require-imports */

const FIRST_TIMESTAMP = 1_700_000_000_000;
/** Byte position of the attributes int16 in an encoded batch. */
const ATTRIBUTES_AT = 21;

interface Options {
  firstOffset: number;
  records: Array<{
    delta: number;
    timestampDelta?: number;
    key?: string | null;
    value?: string | null;
    headers?: Record<string, string | string[]>;
  }>;
  compression?: number;
  lastOffsetDelta?: number;
  maxTimestamp?: number;
}

async function batch(o: Options): Promise<Buffer> {
  const encoded = await RecordBatch({
    compression: o.compression ?? CompressionTypes.None,
    firstOffset: Long.fromValue(o.firstOffset),
    firstTimestamp: FIRST_TIMESTAMP,
    maxTimestamp: o.maxTimestamp ?? FIRST_TIMESTAMP,
    lastOffsetDelta: o.lastOffsetDelta ?? o.records[o.records.length - 1]?.delta ?? 0,
    records: o.records.map((r) =>
      Record({
        offsetDelta: r.delta,
        timestampDelta: r.timestampDelta ?? 0,
        key: r.key === undefined || r.key === null ? null : Buffer.from(r.key),
        value: r.value === null ? null : Buffer.from(r.value ?? `v${o.firstOffset + r.delta}`),
        headers: r.headers ?? {},
      })
    ),
  });
  return Buffer.from(encoded.buffer);
}

describe('decodeRecordBatches (Kafka record batch v2)', () => {
  it('decodes offsets, timestamps, keys, null values and headers (duplicate keys in wire order)', async () => {
    const set = await batch({
      firstOffset: 100,
      records: [
        { delta: 0, key: 'k0', value: 'a', timestampDelta: 5, headers: { h: ['1', '2'], g: 'x' } },
        { delta: 2, key: null, value: null, timestampDelta: -3 },
      ],
    });
    const [decoded] = await decodeRecordBatches('t', 4, set, 1000n);
    expect(decoded).toMatchObject({ baseOffset: 100n, lastOffset: 102n, transactional: false });
    expect(decoded?.marker).toBeUndefined();
    expect(
      decoded?.records.map((r) => [r.topic, r.partition, r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null])
    ).toEqual([
      ['t', 4, 100n, BigInt(FIRST_TIMESTAMP + 5), 'k0', 'a'],
      ['t', 4, 102n, BigInt(FIRST_TIMESTAMP - 3), null, null],
    ]);
    expect(decoded?.records[0]?.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['h', '1'],
      ['h', '2'],
      ['g', 'x'],
    ]);
    expect(decoded?.records[1]?.headers).toEqual([]);
  });

  it('stops after the batch that reaches until - 1, and decodes no record at or past until', async () => {
    const set = Buffer.concat([
      await batch({ firstOffset: 0, records: [0, 1, 2].map((delta) => ({ delta })) }),
      await batch({ firstOffset: 3, records: [0, 1, 2].map((delta) => ({ delta })) }),
      await batch({ firstOffset: 6, records: [0, 1].map((delta) => ({ delta })) }),
    ]);
    const decoded = await decodeRecordBatches('t', 0, set, 5n);
    expect(decoded.map((b) => [b.baseOffset, b.lastOffset])).toEqual([
      [0n, 2n],
      [3n, 5n],
    ]);
    expect(decoded.flatMap((b) => b.records.map((r) => r.offset))).toEqual([0n, 1n, 2n, 3n, 4n]);
  });

  it('inflates compressed batches and ends at a batch the byte limit cut short', async () => {
    const whole = await batch({ firstOffset: 0, compression: CompressionTypes.GZIP, records: [0, 1, 2].map((delta) => ({ delta })) });
    const next = await batch({ firstOffset: 3, records: [{ delta: 0 }] });
    const decoded = await decodeRecordBatches('t', 0, Buffer.concat([whole, next.subarray(0, next.length - 2)]), 100n);
    expect(decoded.flatMap((b) => b.records.map((r) => r.value?.toString()))).toEqual(['v0', 'v1', 'v2']);
  });

  it('gives every record the batch time under LogAppendTime, and reads transaction markers', async () => {
    const appended = await batch({ firstOffset: 0, maxTimestamp: FIRST_TIMESTAMP + 99, records: [{ delta: 0, timestampDelta: 1 }] });
    appended.writeInt16BE(appended.readInt16BE(ATTRIBUTES_AT) | 0x08, ATTRIBUTES_AT);
    const marker = async (type: number): Promise<Buffer> => {
      const b = await batch({ firstOffset: 1, records: [{ delta: 0, key: String.fromCharCode(0, 0, 0, type), value: 'x' }] });
      b.writeInt16BE(b.readInt16BE(ATTRIBUTES_AT) | 0x30, ATTRIBUTES_AT); // control + transactional
      return b;
    };
    const [append] = await decodeRecordBatches('t', 0, appended, 10n);
    expect(append?.records[0]?.timestamp).toBe(BigInt(FIRST_TIMESTAMP + 99));
    const [commit] = await decodeRecordBatches('t', 0, await marker(1), 10n);
    const [abort] = await decodeRecordBatches('t', 0, await marker(0), 10n);
    expect([commit?.marker, commit?.transactional, commit?.records]).toEqual(['commit', true, []]);
    expect(abort?.marker).toBe('abort');
  });

  it('refuses the legacy message format with a clear error', async () => {
    const legacy = await batch({ firstOffset: 0, records: [{ delta: 0 }] });
    legacy.writeInt8(1, 16);
    await expect(decodeRecordBatches('t', 7, legacy, 10n)).rejects.toThrow('t-7: record batch with magic 1');
  });
});
