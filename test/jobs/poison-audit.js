// @ts-check
/**
 * The audit job with poison records, for the dead-letter tests. While POISON=1 (the "bug"):
 * `process` throws on every value `v<i>` with i % 100 === 50, and `decode` throws on values that
 * start with `undecodable`. Without POISON (the job "after the fix") every record counts, so a
 * replay of the dead-letter queue completes the audit. Policy `dead-letter` (config may override).
 */
const { defineJob, redisCounterSink } = require('@sluice/common');

const poisoned = () => process.env.POISON === '1';

module.exports = defineJob({
  name: 'poison-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  onError: 'dead-letter',
  decode(record) {
    const text = record.value === null ? '<null>' : record.value.toString('utf8');
    if (poisoned() && text.startsWith('undecodable')) throw new Error(`cannot decode ${text}`);
    return text;
  },
  process(records) {
    return records.map((record) => {
      const value = /** @type {string} */ (/** @type {unknown} */ (record.value));
      const match = /^v(\d+)$/.exec(value);
      if (poisoned() && match && Number(match[1]) % 100 === 50) throw new Error(`poison value ${value}`);
      return value;
    });
  },
  sink: redisCounterSink({ key: 'audit' }),
});
