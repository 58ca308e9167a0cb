/**
 * Watches a running sluice job through its driver's JSON API and fails the run unless the lag
 * drains, loaded batches stay under a p99 total delay and no batch fails. Plain k6, no extension:
 *
 *   k6 run -e SLUICE_URL=http://127.0.0.1:4040 -e DURATION=60 deploy/k6/check.js
 *
 * Environment: SLUICE_URL (http://127.0.0.1:4040), DURATION (seconds to watch, 60), MAX_LAG (0),
 * MAX_P99_DELAY_MS (2000). Watch for long enough that the job drains before the end: the lag
 * threshold judges the last sample.
 */
import { sleep } from 'k6';
import { observe, sluiceThresholds } from './lib/sluice.js';

const DURATION = Number(__ENV.DURATION || 60);

export const options = {
  scenarios: {
    watch: { executor: 'constant-vus', vus: 1, duration: `${DURATION}s`, exec: 'watch' },
  },
  thresholds: sluiceThresholds(),
};

export function setup() {
  return { startedAt: Date.now() };
}

export function watch(data) {
  observe(data.startedAt);
  sleep(1);
}
