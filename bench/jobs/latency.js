// @ts-check
/**
 * Bench job "latency": commits each chunk (offset only, exactly-once), then appends
 * `<record timestamp> <commit time - record timestamp> <records>` (ms, ms, count) to
 * `$BENCH_LATENCY_DIR/<pid>.txt`, one line per distinct timestamp of the chunk (records produced in
 * the same millisecond share one line, so the file stays small at hundreds of thousands of records/s).
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
      /** @type {Map<number, number>} */
      const byTs = new Map();
      for (const ts of outputs) byTs.set(ts, (byTs.get(ts) ?? 0) + 1);
      let lines = '';
      for (const [ts, n] of byTs) lines += `${ts} ${now - ts} ${n}\n`;
      fs.appendFileSync(file, lines);
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
