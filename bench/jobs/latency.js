// @ts-check
/**
 * Bench job "latency": commits each chunk (offset only, exactly-once), then appends, per record,
 * `<record timestamp> <commit time - record timestamp>` (ms) to `$BENCH_LATENCY_DIR/<pid>.txt`, one record a line.
 * With producer timestamps (CreateTime) this is the end-to-end latency from production to commit.
 */
const fs = require('node:fs');
const path = require('node:path');
const { defineJob } = require('@sluice/common');

const dir = process.env.BENCH_LATENCY_DIR || '/tmp';
const file = path.join(dir, `${process.pid}.txt`);

/** @type {import('@sluice/common').Sink<number>} */
const latencySink = {
  kind: 'bench-latency',
  guarantee: 'exactly-once',
  async commit(outputs, committer) {
    const outcome = await committer.commit([]);
    if (outcome.status === 'committed' && outputs.length > 0) {
      const now = Date.now();
      fs.appendFileSync(file, outputs.map((ts) => `${ts} ${now - ts}`).join('\n') + '\n');
    }
    return outcome;
  },
};

module.exports = defineJob({
  name: 'bench-latency',
  source: { topics: ['bench'], startingOffsets: 'latest' },
  batch: { intervalMs: 500 },
  process: (records) => records.map((r) => Number(r.timestamp)),
  sink: latencySink,
});
