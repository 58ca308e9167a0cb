// @ts-check
/**
 * word-count: splits each record's value into lowercase words and counts them in the Redis hash
 * `sluice:{<job name>}:out:counts`, exactly once (the counters move with the offsets, atomically).
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

module.exports = defineJob({
  name: 'word-count',
  source: { topics: ['lines'], startingOffsets: 'earliest' },
  batch: { intervalMs: 1000, maxRatePerPartition: 50_000 },
  // Counting within the chunk first hands the sink one [word, count] pair per distinct word.
  process(records) {
    const counts = new Map();
    for (const record of records) {
      if (record.value === null) continue;
      const text = record.value.toString('utf8').toLowerCase();
      for (const word of text.split(/[^\p{L}\p{N}']+/u)) {
        if (word !== '') counts.set(word, (counts.get(word) ?? 0) + 1);
      }
    }
    return counts;
  },
  sink: redisCounterSink({ key: 'counts' }),
});
