// @ts-check
/**
 * The audit job, failing the first attempt of the tasks of the partitions in FLAKY_PARTITIONS
 * (comma-separated): their retries succeed.
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

const flaky = new Set((process.env.FLAKY_PARTITIONS || '').split(',').filter(Boolean).map(Number));

module.exports = defineJob({
  name: 'flaky-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  process(records, context) {
    if (context.attempt === 0 && flaky.has(context.partition)) throw new Error(`flaky partition ${context.partition}`);
    return records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8')));
  },
  sink: redisCounterSink({ key: 'audit' }),
});
