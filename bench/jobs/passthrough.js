// @ts-check
/**
 * Bench job "passthrough": counts the records of every chunk into one exactly-once Redis counter
 * (`sluice:{<name>}:out:bench`, field `records`). It touches no payload, so it measures what
 * sluice itself costs: reading, decoding, committing.
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

module.exports = defineJob({
  name: 'bench-passthrough',
  source: { topics: ['bench'], startingOffsets: 'earliest' },
  process: (records) => [['records', records.length]],
  sink: redisCounterSink({ key: 'bench' }),
});
