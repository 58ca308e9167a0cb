import type { OffsetRange } from '@sluice/common';

/**
 * Structured Streaming's `minPartitions` (KafkaOffsetRangeCalculator): when a batch has fewer
 * non-empty ranges than `minPartitions`, each range is cut into a number of pieces proportional to
 * its share of the batch, so that a partition holding most of the backlog is read by several tasks
 * at once. Deterministic: a replayed batch is cut into the same pieces.
 *
 * @returns for each range, its pieces in offset order (one piece when it is not split)
 */
export function splitRanges(ranges: OffsetRange[], minPartitions: number): OffsetRange[][] {
  const sizes = ranges.map((r) => r.untilOffset - r.fromOffset);
  const total = sizes.reduce((a, b) => a + b, 0n);
  if (minPartitions <= ranges.length || total === 0n) return ranges.map((r) => [r]);
  return ranges.map((range, i) => {
    const size = sizes[i] as bigint;
    const wanted = BigInt(Math.max(1, Math.round((Number(size) / Number(total)) * minPartitions)));
    const parts = wanted < size ? wanted : size; // at least one offset per piece
    const pieces: OffsetRange[] = [];
    for (let k = 0n; k < parts; k++) {
      const from = range.fromOffset + (size * k) / parts;
      const until = range.fromOffset + (size * (k + 1n)) / parts;
      if (until > from) pieces.push({ ...range, fromOffset: from, untilOffset: until });
    }
    return pieces.length > 0 ? pieces : [range];
  });
}
