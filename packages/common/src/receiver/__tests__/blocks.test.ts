import type { SourceRecord } from '../../kafka/types';
import { blockBytes, blockRanges, decodeBlock, encodeBlock } from '../blocks';
import { nextEntryId } from '../block-log';
import { fromWireBlock, toWireBlock } from '../wire';

const record = (topic: string, partition: number, offset: bigint, value: string | null, key: string | null = null): SourceRecord => ({
  topic,
  partition,
  offset,
  timestamp: 1_700_000_000_000n + offset,
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(value),
  headers: [],
});

describe('receiver blocks', () => {
  const records: SourceRecord[] = [
    record('a', 0, 5n, 'x', 'k'),
    record('a', 0, 7n, null),
    {
      ...record('b.c', 3, 2n ** 62n, ''),
      headers: [
        { key: 'h', value: Buffer.from([0, 255]) },
        { key: 'n', value: null },
      ],
    },
    record('a', 1, 0n, 'yy'),
  ];

  it('the write-ahead log encoding gives back every record, field for field', () => {
    expect(decodeBlock(encodeBlock(records))).toEqual(records);
    expect(decodeBlock(encodeBlock([]))).toEqual([]);
  });

  it('a truncated or corrupt entry is refused, not misread', () => {
    const data = encodeBlock(records);
    expect(() => decodeBlock(data.subarray(0, data.length - 3))).toThrow(/truncated/);
    const badTopic = Buffer.from(data);
    // The first record's topic index, after the topic table.
    badTopic.writeUInt32BE(99, 4 + (4 + 1) + (4 + 3) + 4);
    expect(() => decodeBlock(badTopic)).toThrow(/topic #99/);
  });

  it('ranges per partition with their records, and key and value bytes', () => {
    expect(blockRanges(records)).toEqual([
      { topic: 'a', partition: 0, from: '5', until: '8', records: 2 },
      { topic: 'b.c', partition: 3, from: String(2n ** 62n), until: String(2n ** 62n + 1n), records: 1 },
      { topic: 'a', partition: 1, from: '0', until: '1', records: 1 },
    ]);
    expect(blockBytes(records)).toBe(1 + 1 + 0 + 0 + 2);
  });

  it('the next stream entry id keeps the one after it (XTRIM MINID)', () => {
    expect(nextEntryId('1700000000000-0')).toBe('1700000000000-1');
    expect(nextEntryId('5-18446744073709551615')).toBe('5-18446744073709551616');
  });

  it('a block survives the wire, and a malformed one is refused', () => {
    const block = {
      id: 'receiver-0.ab12.3',
      receiver: 'receiver-0',
      executor: 'e-1',
      wal: '1-0',
      records: 4,
      bytes: 4,
      logBytes: 90,
      ranges: blockRanges(records),
    };
    const invalid = (why: string): Error => new Error(why);
    const wire = toWireBlock(block);
    expect(fromWireBlock({ ...wire, records: String(wire.records), bytes: String(wire.bytes) }, invalid)).toEqual(block);
    expect(() => fromWireBlock({ ...wire, wal_entry: 'x' }, invalid)).toThrow(/not a log entry id/);
    expect(() => fromWireBlock({ ...wire, block_id: 'a:b' }, invalid)).toThrow(/malformed block/);
    expect(() => fromWireBlock({ ...wire, range_records: [] }, invalid)).toThrow(/malformed ranges/);
    const backwards = { ...wire, ranges: [{ topic: 'a', partition: 0, from_offset: '9', until_offset: '8' }], range_records: ['1'] };
    expect(() => fromWireBlock(backwards as never, invalid)).toThrow(/invalid range/);
  });
});
