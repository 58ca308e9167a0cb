// @ts-check
/**
 * load: the job `sluice load` (and the k6 scripts in deploy/k6) measure. Each record's value is JSON
 * `{"id":"<run>:<seq>","ts":<production time, ms>,...}`. In the same Lua script that moves the
 * offset (so exactly once), every chunk writes, per run, into the job's namespace:
 *
 *   out:load:<run>:ids      hash  seq -> times counted (1 each; 0 = missing, >1 = duplicate)
 *   out:load:<run>:latency  hash  latency bucket (ms) -> records; latency = commit time - ts
 *   out:load:<run>:commits  hash  commit time, 100 ms bucket (ms) -> records
 *   out:load:invalid        string records that are not such JSON (counted, never fatal)
 *
 * The commit time is taken just before the chunk's commit script runs: the latency is production
 * to the moment the record's output becomes visible, short by the script's own duration (~1 ms).
 * Producer and executor clocks are compared, so on several machines they must be in sync (NTP).
 * Latency buckets are exact below 1 s and keep 3 significant digits above (1,234 ms -> 1,230).
 */
const { defineJob } = require('@sluice/common');

/** @param {number} ms */
function latencyBucket(ms) {
  if (ms < 1000) return Math.max(0, Math.round(ms));
  const step = 10 ** (Math.floor(Math.log10(ms)) - 2);
  return Math.floor(ms / step) * step;
}

/**
 * @param {import('@sluice/common').SourceRecord} record
 * @returns {{ run: string, seq: string, ts: number } | null}
 */
function parse(record) {
  if (record.value === null) return null;
  try {
    const { id, ts } = JSON.parse(record.value.toString('utf8'));
    const colon = typeof id === 'string' ? id.lastIndexOf(':') : -1;
    if (colon <= 0 || colon === id.length - 1 || typeof ts !== 'number' || !Number.isFinite(ts)) return null;
    return { run: id.slice(0, colon), seq: id.slice(colon + 1), ts };
  } catch {
    return null;
  }
}

/** @param {Map<string, number>} map @param {string} key @param {number} by */
const add = (map, key, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

/** @type {import('@sluice/common').Sink<{ run: string, seq: string, ts: number } | null>} */
const loadSink = {
  kind: 'load',
  guarantee: 'exactly-once',
  commit(outputs, committer) {
    const now = Date.now();
    const commitBucket = String(Math.floor(now / 100) * 100);
    /** @type {Map<string, number>} */ const ids = new Map();
    /** @type {Map<string, number>} */ const latency = new Map();
    /** @type {Map<string, number>} */ const commits = new Map();
    let invalid = 0;
    for (const out of outputs) {
      if (out === null) {
        invalid++;
        continue;
      }
      add(ids, `load:${out.run}:ids\n${out.seq}`);
      add(latency, `load:${out.run}:latency\n${latencyBucket(now - out.ts)}`);
      add(commits, `load:${out.run}:commits\n${commitBucket}`);
    }
    /** @type {import('@sluice/common').RedisWrite[]} */
    const writes = [];
    for (const map of [ids, latency, commits]) {
      for (const [keyField, by] of map) {
        const nl = keyField.indexOf('\n');
        writes.push({ op: 'hincrby', key: keyField.slice(0, nl), field: keyField.slice(nl + 1), by });
      }
    }
    if (invalid > 0) writes.push({ op: 'incrby', key: 'load:invalid', by: invalid });
    return committer.commit(writes);
  },
};

module.exports = defineJob({
  name: 'load',
  source: { topics: ['load'], startingOffsets: 'earliest' },
  batch: { intervalMs: 500 },
  process: (records) => records.map(parse),
  sink: loadSink,
});
