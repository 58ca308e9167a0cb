// @ts-check
/**
 * The audit job, failing the first attempt of the tasks of the partitions in FLAKY_PARTITIONS
 * (comma-separated): their retries succeed. With FLAKY_AFTER_CHUNKS=n the first attempt processes
 * (and commits) n chunks of its task first, and fails on the next one.
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

const flaky = new Set((process.env.FLAKY_PARTITIONS || '').split(',').filter(Boolean).map(Number));
const afterChunks = Number(process.env.FLAKY_AFTER_CHUNKS || 0);
/** Chunks the first attempts processed, by `batch:partition`. */
const processed = new Map();

module.exports = defineJob({
  name: 'flaky-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  process(records, context) {
    if (context.attempt === 0 && flaky.has(context.partition)) {
      const task = `${context.batchId}:${context.partition}`;
      const chunks = processed.get(task) || 0;
      processed.set(task, chunks + 1);
      if (chunks >= afterChunks) throw new Error(`flaky partition ${context.partition}`);
    }
    return records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8')));
  },
  sink: redisCounterSink({ key: 'audit' }),
});
