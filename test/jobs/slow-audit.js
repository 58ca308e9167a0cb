// @ts-check
/**
 * The audit job, slowed down: each chunk takes SLOW_MS_PER_RECORD ms per record (a timer, not a
 * busy loop, so the rate a task sustains is known: 1000 / SLOW_MS_PER_RECORD records/s).
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

const msPerRecord = Number(process.env.SLOW_MS_PER_RECORD || 1);

module.exports = defineJob({
  name: 'slow-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  async process(records) {
    await new Promise((resolve) => setTimeout(resolve, records.length * msPerRecord));
    return records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8')));
  },
  sink: redisCounterSink({ key: 'audit' }),
});
