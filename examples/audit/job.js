// @ts-check
/**
 * audit: for every record, increments the counter of the record's value in one Redis hash, through
 * the exactly-once Redis sink. After a run over unique values, the hash has one field per produced
 * value and every count is 1; any other count is a loss or a duplicate, named by its value.
 *
 * The hash is `sluice:{<job name>}:out:<AUDIT_KEY>` (AUDIT_KEY defaults to `audit`).
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

module.exports = defineJob({
  name: 'audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  batch: { intervalMs: 1000 },
  process: (records) => records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8'))),
  sink: redisCounterSink({ key: process.env.AUDIT_KEY || 'audit' }),
});
