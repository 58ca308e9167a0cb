// @ts-check
/**
 * An audit job on `redisSink` (one HINCRBY per record) whose `process` returns a malformed write
 * for the value `malformed`: op `incr`, a Redis command that is not a sink write.
 */
const { defineJob, redisSink } = require('@sluice/common');

module.exports = defineJob({
  name: 'malformed-output',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  process(records) {
    return records.map((record) => {
      const value = record.value === null ? '<null>' : record.value.toString('utf8');
      const op = value === 'malformed' ? 'incr' : 'hincrby';
      return /** @type {import('@sluice/common').RedisWrite} */ ({ op, key: 'audit', field: value, by: 1 });
    });
  },
  sink: redisSink(),
});
