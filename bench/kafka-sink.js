// @ts-check
/**
 * The `kafka-sink` section of `npm run bench` (bench/run.js passes its helpers in `b`):
 * - throughput: kafkaSink against idempotentSink, both copying the same backlog record for record
 *   to an output topic of their own (bench/jobs/kafka-copy.js), 2 executors; every run's output is
 *   counted under read_committed (kcat) and must hold the backlog exactly once;
 * - visibility: records produced at a steady rate, stamped with their send time, are read from the
 *   output by a read_committed consumer (kcat) as they become visible; p50/p99 of send-to-visible,
 *   per sink and batch interval.
 *
 * Knobs: BENCH_KAFKA_SINK_RECORDS [200000], BENCH_KAFKA_SINK_INTERVALS [200,1000] (ms),
 * BENCH_KAFKA_SINK_RATE [2000] (records/s of the visibility runs), BENCH_KAFKA_SINK_SECONDS [15]
 * (measured window of each visibility run, after 5 s of warm-up).
 */
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');

const RECORDS = Number(process.env.BENCH_KAFKA_SINK_RECORDS || 200_000);
const INTERVALS = (process.env.BENCH_KAFKA_SINK_INTERVALS || '200,1000').split(',').map(Number);
const RATE = Number(process.env.BENCH_KAFKA_SINK_RATE || 2000);
const SECONDS = Number(process.env.BENCH_KAFKA_SINK_SECONDS || 15);
const WARMUP_SECONDS = 5;
const SINKS = ['kafka', 'idempotent'];
const JOB = path.join(__dirname, 'jobs/kafka-copy.js');

/** Records of `topic` a read_committed reader sees (kcat, librdkafka). */
function committedCount(brokers, topic) {
  const r = spawnSync('kcat', ['-b', brokers, '-C', '-t', topic, '-e', '-q', '-f', '.\n', '-X', 'isolation.level=read_committed'], {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`kcat (needed to count the output under read_committed): ${r.error.message}`);
  return r.stdout.length / 2;
}

/** The value's first field: the time (ms) its input record was sent. */
const sentAt = (line) => Number(line.slice(0, line.indexOf(' ')));

/**
 * One visibility run: a job with `sink` at `intervalMs`, records produced at RATE for warm-up plus
 * SECONDS, and the send-to-visible latency of those of the measured window.
 */
async function visibility(b, sink, intervalMs) {
  const topic = `bench-ksv-${sink}-${intervalMs}-${b.RUN_ID}`;
  const out = `${topic}-out`;
  await b.createTopic(topic, b.PARTITIONS);
  await b.createTopic(out, b.PARTITIONS);
  const reader = spawn('kcat', ['-b', b.BROKERS, '-C', '-t', out, '-u', '-q', '-f', '%s\n', '-X', 'isolation.level=read_committed'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const latencies = [];
  let from = Infinity;
  let until = Infinity;
  let pending = '';
  reader.stdout.on('data', (d) => {
    const now = Date.now();
    const lines = (pending + d).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const t = sentAt(line);
      if (t >= from && t < until) latencies.push(now - t);
    }
  });
  const job = b.startSluice({
    job: JOB,
    topic,
    executors: 2,
    env: { BENCH_KAFKA_SINK: sink, BENCH_KAFKA_OUT: out },
    args: ['--batch-interval-ms', String(intervalMs), '--starting-offsets', 'earliest'],
  });
  const producer = b.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const tickMs = 50;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
  const pad = 'x'.repeat(Math.max(0, b.RECORD_BYTES - 16));
  const started = Date.now();
  from = started + WARMUP_SECONDS * 1000;
  const end = from + SECONDS * 1000;
  let sent = 0;
  for (let tick = 0; Date.now() < end; tick++) {
    const now = Date.now();
    const messages = Array.from({ length: perTick }, (_, i) => ({ value: `${now} ${pad}`, partition: (sent + i) % b.PARTITIONS }));
    await producer.send({ topic, acks: 1, messages });
    if (now >= from) sent += perTick;
    const next = started + (tick + 1) * tickMs;
    if (next > Date.now()) await b.sleep(next - Date.now());
  }
  until = end;
  await producer.disconnect();
  // Everything sent in the window becomes visible within a few batches.
  for (const deadline = Date.now() + 30_000; latencies.length < sent && Date.now() < deadline;) await b.sleep(100);
  job.stop();
  await job.finished;
  reader.kill('SIGTERM');
  const sorted = [...latencies].sort((x, y) => x - y);
  const pct = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { sink, intervalMs, sent, seen: latencies.length, p50: pct(0.5), p99: pct(0.99) };
}

/** @param {string[]} report @param {any} b */
async function kafkaSinkSection(report, b) {
  const topic = `bench-ks-${b.RUN_ID}`;
  await b.createTopic(topic, b.PARTITIONS);
  b.log(`producing ${RECORDS} records of ${b.RECORD_BYTES} bytes to ${topic}`);
  await b.produce(topic, RECORDS, b.PARTITIONS);
  const runs = {};
  for (const sink of SINKS) {
    runs[sink] = [];
    for (let i = 0; i < b.REPS; i++) {
      const out = `${topic}-out-${sink}-${i}`;
      await b.createTopic(out, b.PARTITIONS);
      b.log(`sluice kafka-copy, ${sink}Sink x2 (run ${i + 1})`);
      runs[sink].push(
        await b.sluiceThroughput(JOB, topic, 2, { env: { BENCH_KAFKA_SINK: sink, BENCH_KAFKA_OUT: out }, expected: RECORDS })
      );
      const n = committedCount(b.BROKERS, out);
      if (n !== RECORDS) throw new Error(`${sink}Sink wrote ${n} records visible under read_committed, expected ${RECORDS}`);
    }
  }
  const visible = [];
  for (const intervalMs of INTERVALS) {
    for (const sink of SINKS) {
      b.log(`visibility: ${sink}Sink at a ${intervalMs} ms batch interval, ${RATE} records/s`);
      visible.push(await visibility(b, sink, intervalMs));
    }
  }
  const rps = (sink) => b.median(runs[sink].map((r) => r.rps));
  const ofRuns = b.REPS > 1 ? `median of ${b.REPS} runs, the runs in brackets` : '1 run';
  const cpu = (sink) => b.fmt(b.median(runs[sink].map((r) => r.cpuPerM)), 1);
  report.push(
    `### Kafka sinks: ${b.fmt(RECORDS)} records of ${b.RECORD_BYTES} B in ${b.PARTITIONS} partitions, copied record for record, 2 executors (${ofRuns})`,
    '',
    'Records/s from the first plan to the last batch committed. kafkaSink writes each chunk and its group offset in one transaction ' +
      "of the partition's producer; idempotentSink sends the same records with an idempotent producer (acks=all), then commits to Redis. " +
      "Every run's output holds the backlog exactly once under read_committed (counted with kcat).",
    '',
    '| sink | guarantee | records/s, window | vs idempotentSink | CPU s per 1M records |',
    '|---|---|---:|---:|---:|',
    `| **kafkaSink** | exactly-once | ${b.withRuns(runs.kafka.map((r) => r.rps))} | ${b.ratio(rps('kafka'), rps('idempotent'))} | ${cpu('kafka')} |`,
    `| idempotentSink (idempotent producer, acks=all) | at-least-once | ${b.withRuns(runs.idempotent.map((r) => r.rps))} | 1.00x | ${cpu('idempotent')} |`,
    '',
    `Send-to-visible latency under read_committed (kcat), ${b.fmt(RATE)} records/s for ${SECONDS} s after ${WARMUP_SECONDS} s of warm-up:`,
    '',
    '| batch interval | sink | records seen / sent | p50 ms | p99 ms | p50 / interval |',
    '|---:|---|---:|---:|---:|---:|',
    ...visible.map(
      (v) =>
        `| ${v.intervalMs} ms | ${v.sink}Sink | ${b.fmt(v.seen)} / ${b.fmt(v.sent)} | ${b.fmt(v.p50)} | ${b.fmt(v.p99)} | ${(v.p50 / v.intervalMs).toFixed(2)} |`
    ),
    ''
  );
  return { runs, visible };
}

module.exports = { kafkaSinkSection };
