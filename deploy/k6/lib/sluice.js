/**
 * What both k6 scripts share: reading a sluice driver's JSON API (docs/operations.md, "HTTP endpoints of the
 * driver") into k6 metrics, and the thresholds that fail a run. Plain k6: no extension needed.
 */
import { check } from 'k6';
import http from 'k6/http';
import { Gauge, Trend } from 'k6/metrics';

export const SLUICE_URL = (__ENV.SLUICE_URL || 'http://127.0.0.1:4040').replace(/\/$/, '');

/** Total delay (due time to last task committed) of each batch that carried records, ms. */
export const totalDelay = new Trend('sluice_batch_total_delay', true);
/** Scheduling delay of the same batches, ms: above zero means batches queue behind each other. */
export const schedulingDelay = new Trend('sluice_batch_scheduling_delay', true);
/** Total lag of the job (latest - committed, all partitions), records; the last sample is the run's end. */
export const lag = new Gauge('sluice_lag');
/** `sluice_batches_total{outcome="failed"}` of the driver's /metrics. */
export const failedBatches = new Gauge('sluice_failed_batches');

/**
 * Thresholds that fail `k6 run` (exit code 99): the lag drained by the end, the p99 total delay of
 * loaded batches under MAX_P99_DELAY_MS, no failed batch, and every API check passed.
 */
export function sluiceThresholds() {
  return {
    sluice_lag: [`value<=${Number(__ENV.MAX_LAG || 0)}`],
    sluice_batch_total_delay: [`p(99)<${Number(__ENV.MAX_P99_DELAY_MS || 2000)}`],
    sluice_failed_batches: ['value==0'],
    'checks{sluice:api}': ['rate==1'],
  };
}

const seen = new Set();
/** Tags of the API checks, so their threshold ignores any other check. */
const apiCheck = { sluice: 'api' };

function getJson(path) {
  const res = http.get(`${SLUICE_URL}${path}`, { tags: { name: path.split('?')[0] } });
  const ok = check(res, { [`GET ${path.split('?')[0]} is 200`]: (r) => r.status === 200 }, apiCheck);
  return ok ? res.json() : null;
}

/**
 * One look at the driver: its state, the batches completed since `sinceMs` (each counted once per
 * VU, so run this from one VU), the total lag and the failed-batch counter.
 */
export function observe(sinceMs) {
  const status = getJson('/api/v1/status');
  if (status !== null) check(status, { 'driver is running': (s) => s.state === 'running' }, apiCheck);

  const batches = getJson('/api/v1/batches?limit=100');
  if (batches !== null) {
    for (const b of batches.completed) {
      if (seen.has(b.id) || b.time < sinceMs || b.records === 0) continue;
      seen.add(b.id);
      totalDelay.add(b.totalDelayMs);
      schedulingDelay.add(b.schedulingDelayMs);
    }
  }

  const lagNow = getJson('/api/v1/lag');
  if (lagNow !== null) lag.add(Number(lagNow.total));

  const res = http.get(`${SLUICE_URL}/metrics`, { tags: { name: '/metrics' } });
  if (check(res, { 'GET /metrics is 200': (r) => r.status === 200 }, apiCheck)) {
    const line = /^sluice_batches_total\{outcome="failed"\} (\S+)$/m.exec(String(res.body));
    failedBatches.add(line === null ? 0 : Number(line[1]));
  }
}
