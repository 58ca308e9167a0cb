// @ts-check
/**
 * The audit job with a gate, for fault tests: the same output as examples/audit, but an executor
 * started with GATE_AFTER_CHUNKS=n processes n chunks normally and then, on its next chunk,
 * announces itself (RPUSH of its pid to GATE_ENTERED_KEY) and blocks forever, so a test can kill
 * it (or its driver) at a known point of a batch. Without GATE_AFTER_CHUNKS it never blocks.
 */
const Redis = require('ioredis').default;
const { defineJob, redisCounterSink } = require('@sluice/common');

const gateAfter = process.env.GATE_AFTER_CHUNKS === undefined ? Infinity : Number(process.env.GATE_AFTER_CHUNKS);
let chunks = 0;

module.exports = defineJob({
  name: 'gated-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  async process(records) {
    if (chunks++ >= gateAfter) {
      const client = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
      await client.rpush(String(process.env.GATE_ENTERED_KEY), String(process.pid));
      await client.quit();
      await new Promise(() => undefined);
    }
    return records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8')));
  },
  sink: redisCounterSink({ key: 'audit' }),
});
