/**
 * Load test of a sluice job with k6 and xk6-kafka (build: `xk6 build --with github.com/mostafa/xk6-kafka`).
 * Two scenarios at once:
 *
 * - `produce`: RATE records/s for DURATION seconds to TOPIC (constant arrival rate; BATCH records
 *   per iteration). Each value is `{"id":"<run>:<seq>","ts":<ms>,"pad":"…"}` of SIZE bytes, the
 *   format the load job (examples/load) reads: seq runs 0 .. N-1 over the whole test.
 * - `watch`: the driver's JSON API every second until DRAIN seconds after production ends;
 *   thresholds fail the run unless the lag drained, loaded batches kept a p99 total delay under
 *   MAX_P99_DELAY_MS and no batch failed (see lib/sluice.js).
 *
 * Exactly-once needs the job's per-id counts in Redis, which k6 cannot read: the end-of-test
 * summary prints the `sluice load --check <run> --expected <N>` command that checks them (the run
 * id is RUN, or k6-<time> when unset).
 *
 *   ./k6 run -e BROKERS=127.0.0.1:9092 -e TOPIC=load -e RATE=2000 -e DURATION=60 deploy/k6/load.js
 */
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { Connection, SchemaRegistry, Writer, BALANCER_ROUND_ROBIN, SCHEMA_TYPE_STRING } from 'k6/x/kafka';
import { observe, sluiceThresholds } from './lib/sluice.js';

const BROKERS = (__ENV.BROKERS || '127.0.0.1:9092').split(',');
const TOPIC = __ENV.TOPIC || 'load';
const PARTITIONS = Number(__ENV.PARTITIONS || 8);
const RATE = Number(__ENV.RATE || 1000);
const DURATION = Number(__ENV.DURATION || 30);
const DRAIN = Number(__ENV.DRAIN || 30);
const SIZE = Number(__ENV.SIZE || 100);
const BATCH = Number(__ENV.BATCH || 10);
const JOB_NAME = __ENV.JOB_NAME || 'load';

/** Ids handed out (records attempted): N of `sluice load --check <RUN> --expected <N>`. */
const ids = new Counter('sluice_load_ids');

const writer = new Writer({ brokers: BROKERS, topic: TOPIC, balancer: BALANCER_ROUND_ROBIN, requiredAcks: -1 });
const serdes = new SchemaRegistry();

export const options = {
  scenarios: {
    produce: {
      executor: 'constant-arrival-rate',
      exec: 'produce',
      // RATE records/s as RATE iterations of BATCH records every BATCH seconds.
      rate: RATE,
      timeUnit: `${BATCH}s`,
      duration: `${DURATION}s`,
      preAllocatedVUs: Number(__ENV.VUS || 4),
      maxVUs: Number(__ENV.MAX_VUS || 50),
    },
    watch: { executor: 'constant-vus', exec: 'watch', vus: 1, duration: `${DURATION + DRAIN}s` },
  },
  thresholds: {
    ...sluiceThresholds(),
    kafka_writer_error_count: ['count==0'],
    dropped_iterations: ['count==0'],
  },
};

export function setup() {
  const connection = new Connection({ address: BROKERS[0] });
  if (!connection.listTopics().includes(TOPIC)) connection.createTopic({ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 });
  connection.close();
  // One id space per test: made once here and handed to every VU (init code runs once per VU).
  return { startedAt: Date.now(), run: __ENV.RUN || `k6-${Date.now().toString(36)}` };
}

/** `{"id":"<run>:<seq>","ts":<ms>,"pad":"…"}` of SIZE bytes (at least the unpadded length). */
export function recordValue(run, seq, ts) {
  const bare = `{"id":"${run}:${seq}","ts":${ts}}`;
  const pad = SIZE - bare.length - ',"pad":""'.length;
  return pad <= 0 ? bare : `{"id":"${run}:${seq}","ts":${ts},"pad":"${'x'.repeat(pad)}"}`;
}

export function produce(data) {
  const first = exec.scenario.iterationInTest * BATCH;
  ids.add(BATCH);
  const ts = Date.now();
  const messages = [];
  for (let i = 0; i < BATCH; i++)
    messages.push({ value: serdes.serialize({ data: recordValue(data.run, first + i, ts), schemaType: SCHEMA_TYPE_STRING }) });
  writer.produce({ messages });
}

export function watch(data) {
  observe(data.startedAt);
  sleep(1);
}

export function teardown() {
  writer.close();
}

// A summary written here rather than jslib's textSummary: the script imports nothing from a remote
// host, so it runs offline.
function summaryText(metrics) {
  const figure = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  return Object.keys(metrics)
    .sort()
    .map((name) => {
      const { values = {}, thresholds = {} } = metrics[name];
      const shown = Object.entries(values).map(([stat, v]) => `${stat}=${figure(v)}`);
      const failed = Object.entries(thresholds)
        .filter(([, t]) => !t.ok)
        .map(([expr]) => expr);
      return ` ${failed.length ? '✗' : '✓'} ${name}: ${shown.join(' ')}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`;
    })
    .join('\n');
}

export function handleSummary(data) {
  const n = data.metrics.sluice_load_ids ? data.metrics.sluice_load_ids.values.count : 0;
  const command = `sluice load --check ${data.setup_data.run} --expected ${n} --job-name ${JOB_NAME} --topic ${TOPIC}`;
  return { stdout: `${summaryText(data.metrics)}\n\n exactly-once: ${command}\n` };
}
