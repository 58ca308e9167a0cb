import { splitRanges } from '../split';

const range = (partition: number, from: number, until: number) => ({
  topic: 't',
  partition,
  fromOffset: BigInt(from),
  untilOffset: BigInt(until),
});
const bounds = (pieces: ReturnType<typeof range>[]) => pieces.map((p) => [Number(p.fromOffset), Number(p.untilOffset)]);

describe('splitRanges (minPartitions)', () => {
  it('keeps one task per range when there are at least minPartitions ranges', () => {
    const ranges = [range(0, 0, 900), range(1, 0, 100)];
    expect(splitRanges(ranges, 2).map(bounds)).toEqual([[[0, 900]], [[0, 100]]]);
    expect(splitRanges(ranges, 0).map(bounds)).toEqual([[[0, 900]], [[0, 100]]]);
  });

  it('cuts ranges into contiguous pieces proportional to their share of the batch', () => {
    const pieces = splitRanges([range(0, 100, 1000), range(1, 0, 100)], 10);
    expect(pieces.map(bounds)).toEqual([
      [
        [100, 200],
        [200, 300],
        [300, 400],
        [400, 500],
        [500, 600],
        [600, 700],
        [700, 800],
        [800, 900],
        [900, 1000],
      ],
      [[0, 100]],
    ]);
  });

  it('never makes empty pieces of tiny ranges', () => {
    expect(splitRanges([range(0, 0, 2)], 8).map(bounds)).toEqual([
      [
        [0, 1],
        [1, 2],
      ],
    ]);
  });
});
