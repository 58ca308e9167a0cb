// @ts-check
/**
 * `npm run bench`: sluice against its baselines on the local Kafka and Redis (see docs/benchmarks.md).
 *
 * Environment knobs (defaults in brackets):
 *   BENCH_RECORDS [1000000]   backlog size (records of BENCH_RECORD_BYTES in 8 partitions)
 *   BENCH_RECORD_BYTES [100]  record size
 *   BENCH_REPS [3]            repetitions per throughput figure (the table shows medians)
 *   BENCH_SLOTS [4]           task slots per sluice executor
 *   BENCH_OVERHEAD_BATCHES [100]  batches per overhead measurement
 *   BENCH_OVERHEAD_WARMUP [30]   of those, the first ones after start (reported apart from the steady state)
 *   BENCH_OVERHEAD_EXECUTORS [2]  executors of the overhead runs
 *   BENCH_OVERHEAD_RUNS [3]   runs per overhead figure (the table shows the median of their medians)
 *   BENCH_OVERHEAD_PARTITIONS [8,64,512]  partition counts of the overhead runs
 *   BENCH_LATENCY_SECONDS [15]   duration of the latency run's measured window
 *   BENCH_LATENCY_WARMUP_SECONDS [10]  production at the target rate before the window (not measured)
 *   BENCH_PRODUCERS [rate / 500,000 rounded up, 1 to 4]  kafka-producer-perf-test processes of the latency run
 *   BENCH_MAX_RPS [100000]    the maximum the latency rate is half of, when the throughput section is not run
 *   BENCH_SECTIONS [throughput,overhead,latency]  which parts to run
 *   KAFKA_BROKERS, REDIS_URL  as everywhere
 * Output: a markdown report on stdout; progress on stderr. Topics and Redis keys it creates are removed.
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
const Redis = require('ioredis').default;

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'packages/cli/dist/main.js');
const KAFKA_SH = path.join(ROOT, 'deploy/local/kafka.sh');
const BROKERS = process.env.KAFKA_BROKERS || '127.0.0.1:9092';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const RECORDS = Number(process.env.BENCH_RECORDS || 1_000_000);
const RECORD_BYTES = Number(process.env.BENCH_RECORD_BYTES || 100);
const REPS = Number(process.env.BENCH_REPS || 3);
const SLOTS = Number(process.env.BENCH_SLOTS || 4);
const OVERHEAD_BATCHES = Number(process.env.BENCH_OVERHEAD_BATCHES || 100);
const OVERHEAD_WARMUP = Math.min(OVERHEAD_BATCHES - 1, Number(process.env.BENCH_OVERHEAD_WARMUP || 30));
const OVERHEAD_EXECUTORS = Number(process.env.BENCH_OVERHEAD_EXECUTORS || 2);
const OVERHEAD_RUNS = Number(process.env.BENCH_OVERHEAD_RUNS || 3);
const OVERHEAD_PARTITIONS = (process.env.BENCH_OVERHEAD_PARTITIONS || '8,64,512').split(',').map(Number);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS || 15);
const LATENCY_WARMUP_SECONDS = Number(process.env.BENCH_LATENCY_WARMUP_SECONDS ?? 10);
const SECTIONS = new Set((process.env.BENCH_SECTIONS || 'throughput,overhead,latency').split(','));
const PARTITIONS = 8;
/** Records/s one kafka-producer-perf-test process is counted on for, to pick how many the latency run needs. */
const PRODUCER_RPS = 500_000;
const RUN_ID = `${Date.now().toString(36)}${process.pid}`;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const WORDS = 'a gate that lets a stream through in measured amounts is the whole idea of sluice every batch is planned'.split(' ');

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

const kafka = new Kafka({ clientId: 'sluice-bench', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
const redis = new Redis(REDIS_URL);
const topics = [];
const jobNames = [];

// ------------------------------------------------------------------------------------------------
// Processes: spawn, sample CPU and peak RSS from /proc until exit.

/** @param {number} pid */
function sample(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    return { cpu, hwm };
  } catch {
    return null;
  }
}

/**
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 */
function start(args, env = {}) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = { child, cpu: 0, hwm: 0, stdout: '', stderr: '', exited: /** @type {Promise<number>} */ (new Promise(() => {})) };
  child.stdout.on('data', (d) => (proc.stdout += d));
  child.stderr.on('data', (d) => (proc.stderr = (proc.stderr + d).slice(-8000)));
  const timer = setInterval(() => {
    const s = child.pid === undefined ? null : sample(child.pid);
    if (s !== null) {
      proc.cpu = Math.max(proc.cpu, s.cpu);
      proc.hwm = Math.max(proc.hwm, s.hwm);
    }
  }, 50);
  proc.exited = new Promise((resolve) =>
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve(code ?? 1);
    })
  );
  return proc;
}

// ------------------------------------------------------------------------------------------------
// Kafka data

async function createTopic(name, numPartitions) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: name, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  } catch (e) {
    // A just-started Kafka can answer the leader check with UNKNOWN_TOPIC_OR_PARTITION before the new
    // topic reaches its metadata cache (kafkajs does not retry that): the topic exists, wait for leaders.
    if (e.type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw e;
    for (let deadline = Date.now() + 30_000; ;) {
      const [metadata] = (await admin.fetchTopicMetadata({ topics: [name] }).catch(() => ({ topics: [] }))).topics;
      if (metadata?.partitions.length === numPartitions && metadata.partitions.every((p) => p.leader >= 0)) break;
      if (Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await admin.disconnect();
  topics.push(name);
}

function textRecord(i) {
  let s = '';
  while (s.length < RECORD_BYTES) s += WORDS[(i + s.length) % WORDS.length] + ' ';
  return s.slice(0, RECORD_BYTES - 1) + '\n';
}

/** Produces `count` records round-robin over the topic's partitions, in large batches. */
async function produce(topic, count, partitions) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const payloads = Array.from({ length: 64 }, (_, i) => Buffer.from(textRecord(i)));
  const chunk = 20_000;
  const inflight = [];
  for (let sent = 0; sent < count; sent += chunk) {
    const n = Math.min(chunk, count - sent);
    const byPartition = new Map();
    for (let i = 0; i < n; i++) {
      const p = (sent + i) % partitions;
      if (!byPartition.has(p)) byPartition.set(p, []);
      byPartition.get(p).push({ value: payloads[(sent + i) % payloads.length], partition: p });
    }
    inflight.push(
      producer.sendBatch({
        acks: 1,
        compression: CompressionTypes.None,
        topicMessages: [{ topic, messages: [...byPartition.values()].flat() }],
      })
    );
    if (inflight.length >= 4) await inflight.shift();
  }
  await Promise.all(inflight);
  await producer.disconnect();
}

// ------------------------------------------------------------------------------------------------
// Baselines

function consumerPerf(topic) {
  const out = execFileSync(
    'bash',
    [KAFKA_SH, 'consumer-perf', '--bootstrap-server', BROKERS, '--topic', topic, '--messages', String(RECORDS), '--timeout', '60000'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  ).toString();
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const names = lines[header].split(',').map((s) => s.trim());
  const values = lines[header + 1].split(',').map((s) => s.trim());
  const get = (k) => Number(values[names.indexOf(k)]);
  return { rps: get('nMsg.sec'), mbps: get('MB.sec') };
}

async function kafkajsGroup(topic, work, consumers) {
  const group = `bench-kafkajs-${RUN_ID}-${Math.random().toString(36).slice(2, 8)}`;
  const key = `bench:{${group}}:out`;
  const procs = Array.from({ length: consumers }, () => start([path.join(__dirname, 'kafkajs-consumer.js'), topic, group, work, key]));
  const progress = () =>
    procs.map((p) => {
      const done = p.stdout.slice(0, p.stdout.lastIndexOf('\n'));
      const m = /progress (\d+) (\d+) (\d+)$/.exec(done.slice(done.lastIndexOf('\n') + 1));
      return m ? { n: Number(m[1]), first: Number(m[2]), last: Number(m[3]) } : { n: 0, first: Infinity, last: 0 };
    });
  const deadline = Date.now() + 300_000;
  while (progress().reduce((a, p) => a + p.n, 0) < RECORDS) {
    if (Date.now() > deadline) throw new Error(`kafkajs baseline did not finish: ${procs.map((p) => p.stderr).join('\n')}`);
    await sleep(50);
  }
  const ps = progress();
  const cpu = procs.reduce((a, p) => a + p.cpu, 0);
  const hwm = Math.max(...procs.map((p) => p.hwm));
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  await redis.del(key);
  const seconds = (Math.max(...ps.map((p) => p.last)) - Math.min(...ps.map((p) => p.first))) / 1000;
  return { rps: RECORDS / seconds, cpuPerM: (cpu / RECORDS) * 1e6, hwm };
}

// ------------------------------------------------------------------------------------------------
// sluice

let nextPort = 17000 + (process.pid % 1000) * 10;

/**
 * Runs a driver and `executors` executors as separate processes, as on Kubernetes.
 * @param {{ job: string, topic: string, executors: number, args?: string[], env?: Record<string,string>, stopAfterMs?: number }} o
 */
async function sluice(o) {
  return startSluice(o).finished;
}

/**
 * Starts a driver and its executors; `finished` resolves when the driver has exited (by itself,
 * after `stopAfterMs`, or after `stop()`) and the executors are stopped.
 * @param {{ job: string, topic: string, executors: number, args?: string[], env?: Record<string,string>, stopAfterMs?: number }} o
 */
function startSluice(o) {
  const name = `bench-${RUN_ID}-${jobNames.length}`;
  jobNames.push(name);
  const port = nextPort++;
  const common = ['--job', o.job, '--name', name, '--topics', o.topic];
  const driver = start(
    [CLI, 'driver', ...common, '--grpc-port', String(port), '--min-executors', String(o.executors), ...(o.args || [])],
    o.env
  );
  const execs = Array.from({ length: o.executors }, () =>
    start([CLI, 'executor', ...common, '--driver', `127.0.0.1:${port}`, '--slots', String(SLOTS), '--grpc-port', '0'], o.env)
  );
  const stop = () => driver.child.kill('SIGTERM');
  if (o.stopAfterMs !== undefined) setTimeout(stop, o.stopAfterMs);
  const finished = (async () => {
    const code = await driver.exited;
    for (const e of execs) e.child.kill('SIGTERM');
    await Promise.all(execs.map((e) => e.exited));
    if (code !== 0) throw new Error(`sluice driver exited ${code}: ${driver.stderr}`);
    const entries = await redis.xrange(`sluice:{${name}}:batches`, '-', '+');
    const summaries = entries.map(([, f]) => JSON.parse(f[f.indexOf('summary') + 1]));
    const lines = driver.stdout
      .split('\n')
      .map((l) => /^batch (\d+): (\d+) records.*processing time (\d+) ms \(plan (\d+) ms, commit (\d+) ms\)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ id: Number(m[1]), records: Number(m[2]), processing: Number(m[3]), plan: Number(m[4]), commit: Number(m[5]) }));
    return { name, driver, execs, summaries, lines };
  })();
  return { name, driver, stop, finished };
}

async function sluiceThroughput(job, topic, executors) {
  const r = await sluice({ job, topic, executors, args: ['--until', 'latest', '--starting-offsets', 'earliest'] });
  const records = r.summaries.reduce((a, s) => a + s.records, 0);
  if (records !== RECORDS) throw new Error(`sluice ${job} committed ${records} records, expected ${RECORDS}`);
  const first = r.summaries[0];
  const lastS = r.summaries[r.summaries.length - 1];
  const lastLine = r.lines[r.lines.length - 1];
  const startMs = first.time + first.schedulingDelayMs;
  const endMs = lastS.time + lastS.totalDelayMs + (lastLine ? lastLine.commit : 0);
  const cpu = r.driver.cpu + r.execs.reduce((a, e) => a + e.cpu, 0);
  return {
    rps: records / ((endMs - startMs) / 1000),
    cpuPerM: (cpu / records) * 1e6,
    driverRss: r.driver.hwm,
    execRss: Math.max(...r.execs.map((e) => e.hwm)),
    batches: r.summaries.length,
  };
}

// ------------------------------------------------------------------------------------------------
// Sections

async function throughput(report) {
  const topic = `bench-tp-${RUN_ID}`;
  await createTopic(topic, PARTITIONS);
  log(`producing ${RECORDS} records of ${RECORD_BYTES} bytes to ${topic}`);
  await produce(topic, RECORDS, PARTITIONS);

  const reps = (n, fn) =>
    (async () => {
      const out = [];
      for (let i = 0; i < n; i++) out.push(await fn());
      return out;
    })();
  const med = (rs, k) => median(rs.map((r) => r[k]));
  const rows = [];

  log('kafka-consumer-perf-test');
  const perf = await reps(REPS, async () => consumerPerf(topic));
  const perfRps = med(perf, 'rps');
  rows.push(['kafka-consumer-perf-test (Java, 1 consumer)', fmt(perfRps), fmt(med(perf, 'mbps'), 1), '', '', '', '1.00x', '']);

  const baseline = {};
  for (const work of ['passthrough', 'word-count']) {
    for (const n of [1, 2]) {
      log(`kafkajs eachBatch ${work} x${n}`);
      const rs = await reps(REPS, () => kafkajsGroup(topic, work, n));
      baseline[`${work}/${n}`] = med(rs, 'rps');
      rows.push([
        `kafkajs eachBatch, ${work}, ${n} consumer${n > 1 ? 's' : ''}`,
        fmt(med(rs, 'rps')),
        fmt((med(rs, 'rps') * RECORD_BYTES) / 1e6, 1),
        fmt(med(rs, 'cpuPerM'), 1),
        '',
        fmt(med(rs, 'hwm')),
        ratio(med(rs, 'rps'), perfRps),
        '1.00x',
      ]);
    }
  }
  const jobs = { passthrough: path.join(__dirname, 'jobs/passthrough.js'), 'word-count': path.join(ROOT, 'examples/word-count') };
  let max = 0;
  /** @type {number[]} */
  const memRss = [];
  for (const work of ['passthrough', 'word-count']) {
    for (const n of [1, 2]) {
      log(`sluice ${work} x${n}`);
      const rs = await reps(REPS, () => sluiceThroughput(jobs[work], topic, n));
      const rps = med(rs, 'rps');
      if (work === 'passthrough') max = Math.max(max, rps);
      if (work === 'passthrough' && n === 1) memRss.push(...rs.map((r) => r.execRss));
      rows.push([
        `**sluice ${work}, ${n} executor${n > 1 ? 's' : ''}**`,
        fmt(rps),
        fmt((rps * RECORD_BYTES) / 1e6, 1),
        fmt(med(rs, 'cpuPerM'), 1),
        fmt(med(rs, 'driverRss')),
        fmt(med(rs, 'execRss')),
        ratio(rps, perfRps),
        ratio(rps, baseline[`${work}/${n}`]),
      ]);
    }
  }
  // Memory: the same executor over ranges 10x shorter (one batch capped by maxRatePerPartition).
  log('sluice passthrough x1, ranges 10x shorter (memory)');
  const perPartition = Math.max(1, Math.floor(RECORDS / PARTITIONS / 10));
  // Both with 1 MiB per partition fetch, so that even the short ranges take several fetches.
  const oneBatch = (len) =>
    reps(REPS, async () => {
      const r = await sluice({
        job: jobs.passthrough,
        topic,
        executors: 1,
        env: { SLUICE_KAFKA_PARTITION_MAX_BYTES: String(1 << 20) },
        args: ['--starting-offsets', 'earliest', '--batches', '1', '--batch-interval-ms', '1000', '--max-rate-per-partition', String(len)],
      });
      return { execRss: r.execs[0].hwm };
    });
  const short = await oneBatch(perPartition);
  const long = await oneBatch(perPartition * 10);
  const memory = [
    `Memory: executor peak RSS (passthrough, 1 executor, ${SLOTS} slots, \`kafka.partitionMaxBytes\` 1 MiB), one batch with ranges of`,
    `${fmt(perPartition)} records per partition: ${fmt(med(short, 'execRss'))} MiB; with ranges 10x longer (${fmt(perPartition * 10)}):`,
    `${fmt(med(long, 'execRss'))} MiB (${ratio(med(long, 'execRss'), med(short, 'execRss'))}). With the default 4 MiB over the whole backlog: ${fmt(median(memRss))} MiB.`,
  ].join(' ');
  report.push(
    `### Throughput: ${fmt(RECORDS)} records of ${RECORD_BYTES} B in ${PARTITIONS} partitions (median of ${REPS})`,
    '',
    '| consumer | records/s | MB/s | CPU s per 1M records | driver peak RSS (MiB) | executor/consumer peak RSS (MiB) | vs consumer-perf | vs kafkajs (same work, same process count) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    memory,
    ''
  );
  return max;
}

/** Median Redis PING round trip, back to back or each after `gapMs` of idling: how long this machine takes to wake a waiting process. */
async function pingRoundTrip(gapMs, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) await sleep(gapMs);
    const t = performance.now();
    await redis.ping();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function overhead(report) {
  const rows = [];
  const hot = await pingRoundTrip(0, 500);
  const afterIdle = await pingRoundTrip(100, 30);
  for (const partitions of OVERHEAD_PARTITIONS) {
    const topic = `bench-ov${partitions}-${RUN_ID}`;
    await createTopic(topic, partitions);
    const job = path.join(__dirname, 'jobs/passthrough.js');
    // One record per partition per batch: interval 100 ms at 10 records/s/partition = 1 record.
    const producer = kafka.producer();
    await producer.connect();
    const one = Buffer.from(textRecord(0));
    for (let b = 0; b < OVERHEAD_BATCHES; b++) {
      await producer.send({ topic, acks: 1, messages: Array.from({ length: partitions }, (_, p) => ({ partition: p, value: one })) });
    }
    await producer.disconnect();
    log(`batch overhead at ${partitions} partitions`);
    const common = { job, topic, executors: OVERHEAD_EXECUTORS };
    const fullArgs = ['--starting-offsets', 'earliest', '--batch-interval-ms', '100', '--max-rate-per-partition', '10'];
    const emptyArgs = ['--starting-offsets', 'latest', '--batch-interval-ms', '100'];
    // The first batch opens connections. The next ones run while the processes' code is still being
    // compiled (V8's JIT): they are reported apart from the steady state a running stream is in.
    const cold = (r) => r.lines.slice(1, OVERHEAD_WARMUP);
    const steady = (r) => r.lines.slice(OVERHEAD_WARMUP);
    const total = (lines) => median(lines.map((l) => l.plan + l.processing + l.commit));
    const part = (lines, k) => median(lines.map((l) => l[k]));
    // Runs differ by more than batches within a run do (where the processes land on the 2 cores,
    // what the broker does meanwhile): each figure is the median of the runs' medians.
    const runs = [];
    for (let run = 0; run < OVERHEAD_RUNS; run++) {
      // Each run is a job of its own, reading the same records from the start.
      const full = await sluice({ ...common, args: [...fullArgs, '--batches', String(OVERHEAD_BATCHES)] });
      const empty = await sluice({ ...common, args: [...emptyArgs, '--batches', String(OVERHEAD_BATCHES)] });
      if (full.lines.slice(1).some((l) => l.records !== partitions)) log(`warning: not one record per partition at ${partitions}`);
      if (process.env.BENCH_DEBUG === '1') {
        const durations = full.summaries.slice(1).flatMap((x) => x.ranges.map((g) => g.durationMs));
        log(`${partitions} partitions: task durations median ${median(durations)} ms, max ${Math.max(...durations)} ms`);
      }
      const s = steady(full);
      runs.push({
        empty: total(steady(empty)),
        emptyPlan: part(steady(empty), 'plan'),
        emptyCommit: part(steady(empty), 'commit'),
        cold: total(cold(full)),
        full: total(s),
        plan: part(s, 'plan'),
        processing: part(s, 'processing'),
        commit: part(s, 'commit'),
      });
    }
    const of = (k) => median(runs.map((r) => r[k]));
    const e = of('empty');
    const f = of('full');
    const target = partitions === 64 ? 10 : partitions === 512 ? 50 : NaN;
    rows.push([
      String(partitions),
      `${fmt(e)} (plan ${fmt(of('emptyPlan'))}, commit ${fmt(of('emptyCommit'))})`,
      `${fmt(of('cold'))}`,
      `${fmt(f)} (plan ${fmt(of('plan'))}, processing ${fmt(of('processing'))}, commit ${fmt(of('commit'))})`,
      runs.map((r) => fmt(r.full)).join(', '),
      Number.isFinite(target)
        ? `≤ ${target} ms: empty ${e <= target ? 'met' : 'NOT met'}, 1/partition ${f <= target ? 'met' : 'NOT met'}`
        : '',
    ]);
  }
  report.push(
    `### Batch overhead: plan to batch committed, ms (medians; ${OVERHEAD_EXECUTORS} executor${OVERHEAD_EXECUTORS > 1 ? 's' : ''})`,
    '',
    `Steady state: batches ${OVERHEAD_WARMUP + 1} to ${OVERHEAD_BATCHES} of a run; after start: batches 2 to ${OVERHEAD_WARMUP}. ` +
      `Each figure is the median of ${OVERHEAD_RUNS} runs' medians; the runs' own steady medians are listed.`,
    `One batch waits on about 8 round trips between processes (plan: Redis and Kafka, plan write; tasks: call, Fetch, commit, answer; batch commit).`,
    `On this machine one round trip (Redis PING, median) takes ${fmt(hot, 2)} ms back to back and ${fmt(afterIdle, 2)} ms after 100 ms of idling.`,
    '',
    '| partitions | empty batch, steady | 1 record per partition, after start | 1 record per partition, steady | runs (1/partition, steady) | target (steady) |',
    '|---:|---|---:|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    ''
  );
}

/**
 * Produces `rate` records/s for `seconds` to `topic` with `count` processes of Kafka's own
 * `kafka-producer-perf-test` (Java client, the broker's jars), each at rate/count records/s,
 * paced by the tool's throttle. A kafkajs producer process encodes ~100,000 records/s at most on
 * this kind of machine, so several of them cannot reach the rate next to the job being measured.
 * The Java producer stamps each record with its send() time (CreateTime), the production time the
 * latency job reads. Resolves when all have exited, with the records each says it sent.
 */
async function produceAtRate(topic, rate, seconds, count) {
  const perProcess = Math.ceil(rate / count);
  const procs = Array.from({ length: count }, () => {
    // Own process group, so that a failed run can stop java too (bash does not forward signals).
    const child = spawn(
      'bash',
      [
        KAFKA_SH,
        'producer-perf',
        '--bootstrap-server',
        BROKERS,
        '--topic',
        topic,
        '--num-records',
        String(Math.round(perProcess * seconds)),
        '--throughput',
        String(perProcess),
        '--record-size',
        String(RECORD_BYTES),
        '--reporting-interval',
        String(3_600_000),
        // acks=1 like the rest of the bench; larger batches than the 16 KiB default cut the requests per second.
        '--command-property',
        'acks=1',
        'linger.ms=5',
        'batch.size=262144',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true }
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out = (out + d).slice(-8000)));
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    return { child, exited, out: () => out };
  });
  try {
    const codes = await Promise.all(procs.map((p) => p.exited));
    return procs.map((p, i) => {
      const m = /(\d+) records sent, ([\d.]+) records\/sec.*, (\d+) ms 50th/.exec(p.out());
      if (codes[i] !== 0 || m === null) throw new Error(`kafka-producer-perf-test exited ${codes[i]}: ${p.out()}`);
      return { sent: Number(m[1]), rps: Number(m[2]) };
    });
  } finally {
    for (const p of procs) {
      if (p.child.exitCode !== null || p.child.pid === undefined) continue;
      try {
        process.kill(-p.child.pid, 'SIGTERM');
      } catch {
        // the group has exited meanwhile
      }
    }
  }
}

/** @param {string} maxFrom where `maxRps` comes from, for the report */
async function latency(report, maxRps, maxFrom) {
  const rate = Math.max(1000, Math.round(maxRps / 2));
  const producers = Number(process.env.BENCH_PRODUCERS || Math.min(4, Math.max(1, Math.ceil(rate / PRODUCER_RPS))));
  const topic = `bench-lat-${RUN_ID}-${rate}`;
  await createTopic(topic, PARTITIONS);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-lat-'));
  log(`latency at ${rate} records/s for ${LATENCY_WARMUP_SECONDS} + ${LATENCY_SECONDS} s with ${producers} producer process(es)`);
  const job = startSluice({
    job: path.join(__dirname, 'jobs/latency.js'),
    topic,
    executors: 2,
    env: { BENCH_LATENCY_DIR: dir },
  });
  const finished = job.finished.catch((e) => e);
  const keys = { committed: `sluice:{${job.name}}:batch:committed`, totals: `sluice:{${job.name}}:totals` };
  /** @param {() => Promise<boolean>} cond @param {number} ms @param {string} what */
  const waitFor = async (cond, ms, what) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`latency: ${what} not within ${ms} ms: ${job.driver.stderr}`);
      if (job.driver.child.exitCode !== null) throw new Error(`latency: the driver exited: ${job.driver.stderr}`);
      await sleep(100);
    }
  };
  let produced = 0;
  let drained = true;
  try {
    // Executors registered and the first (empty) batch committed at `latest`: start-up is not measured.
    await waitFor(async () => Number((await redis.get(keys.committed)) ?? 0) >= 1, 60_000, 'first batch');
    const own = await produceAtRate(topic, rate, LATENCY_WARMUP_SECONDS + LATENCY_SECONDS, producers);
    log(`producers (their own counts): ${own.map((o) => `${fmt(o.sent)} records at ${fmt(o.rps)}/s`).join(', ')}`);
    const admin = kafka.admin();
    await admin.connect();
    produced = (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high) - Number(o.low), 0);
    await admin.disconnect();
    // Every record committed (or 10 s more at most: what is not committed by then is not measured).
    await waitFor(async () => Number((await redis.hget(keys.totals, 'records')) ?? 0) >= produced, 10_000, 'drain').catch(
      () => (drained = false)
    );
  } finally {
    job.stop();
  }
  const outcome = await finished;
  if (outcome instanceof Error) throw outcome;
  if (process.env.BENCH_DEBUG === '1') {
    const busy = outcome.lines.filter((l) => l.records > 0);
    log(`latency batches: ${busy.map((l) => `${l.records}r/${l.processing}ms`).join(' ')}`);
    log(`scheduling delays (ms): ${outcome.summaries.map((x) => x.schedulingDelayMs).join(' ')}`);
  }
  // One line per (CreateTime, latency): records, from every executor.
  /** @type {Array<[number, number, number]>} */
  const rows = [];
  for (const f of fs.readdirSync(dir)) {
    for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (l !== '') rows.push(/** @type {[number, number, number]} */ (l.split(' ').map(Number)));
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const committed = rows.reduce((a, r) => a + r[2], 0);
  if (committed === 0) throw new Error(`latency: no record committed: ${job.driver.stderr}`);
  // The window measured starts LATENCY_WARMUP_SECONDS after the first record was produced (the
  // executors' JIT, connections, and the backlog that builds while they are slow must be behind it) or,
  // if later, once the producers are back on their schedule (within 1%): a producer that started
  // slowly catches up at full speed, and that burst is not the constant rate asked for. It ends at the
  // last record. The rate reported is the rate over that same window, from the records' CreateTime.
  rows.sort((x, y) => x[0] - y[0]);
  const first = rows[0][0];
  const last = rows[rows.length - 1][0];
  const warmupMs = LATENCY_WARMUP_SECONDS * 1000;
  let warm = first + warmupMs;
  let cumulative = 0;
  for (const [ts, , n] of rows) {
    cumulative += n;
    if (ts >= first + warmupMs && cumulative >= 0.99 * rate * ((ts - first) / 1000)) {
      warm = ts + 1;
      break;
    }
  }
  /** @type {Map<number, number>} latency ms -> records */
  const hist = new Map();
  /** Records produced per whole second of the window (the last, partial second left out): how constant the rate was. */
  const perSecond = new Array(Math.max(1, Math.floor((last - warm + 1) / 1000))).fill(0);
  let kept = 0;
  for (const [ts, lat, n] of rows) {
    if (ts < warm) continue;
    hist.set(lat, (hist.get(lat) ?? 0) + n);
    kept += n;
    const second = Math.floor((ts - warm) / 1000);
    if (second < perSecond.length) perSecond[second] += n;
  }
  const achieved = kept / (Math.max(1, last - warm + 1) / 1000);
  const lats = [...hist.keys()].sort((x, y) => x - y);
  /** @param {number} p */
  const pctOf = (p) => {
    const rank = Math.max(1, Math.ceil((p / 100) * kept));
    let seen = 0;
    for (const l of lats) if ((seen += /** @type {number} */ (hist.get(l))) >= rank) return l;
    return NaN;
  };
  const p50 = pctOf(50);
  const p99 = pctOf(99);
  const rateMet = achieved >= 0.95 * rate;
  const p99Met = p99 <= 1000 ? 'met' : 'NOT met';
  const notes = [];
  if (!rateMet)
    notes.push(
      `**Precondition NOT met**: the producers reached ${fmt(achieved)} records/s, ${fmt((achieved / rate) * 100)}% of the target rate (at least 95% needed), so this latency was measured at a lower rate than the target asks.`
    );
  const slowest = Math.min(...perSecond);
  const fastest = Math.max(...perSecond);
  if (slowest < 0.8 * rate || fastest > 1.2 * rate)
    notes.push(
      `The rate was not constant: whole seconds of the window ranged from ${fmt(slowest)} to ${fmt(fastest)} records/s (more than 20% off the target; the producer's throttle makes up for stalls with bursts, so when producer, broker and job compete for the cores the latency includes those bursts).`
    );
  if (!drained || committed < produced)
    notes.push(`${fmt(produced - committed)} records produced were not committed within 10 s after production ended (not measured).`);
  report.push(
    `### Latency: production to commit, batch interval 500 ms, 2 executors; target rate ${fmt(rate)} records/s (half of ${maxFrom}), produced ${fmt(achieved)} records/s (${ratio(achieved, rate)}; per second ${fmt(slowest)} to ${fmt(fastest)}; ${producers} kafka-producer-perf-test process${producers > 1 ? 'es' : ''})`,
    '',
    `| records measured (after ${fmt((warm - first) / 1000, 1)} s warm-up) | p50 (ms) | p99 (ms) | max (ms) | p99 / interval | target p99 ≤ 1000 ms |`,
    '|---:|---:|---:|---:|---:|---|',
    `| ${fmt(kept)} of ${fmt(produced)} produced | ${fmt(p50)} | ${fmt(p99)} | ${fmt(lats[lats.length - 1])} | ${ratio(p99, 500)} | ${rateMet ? p99Met : `not measured: target rate not reached (${p99Met} at the rate reached)`} |`,
    '',
    ...(notes.length > 0 ? [notes.join(' '), ''] : [])
  );
  return { achieved, rateMet };
}

function machine() {
  const cpus = os.cpus();
  /** First line a version command prints (java prints to stderr). */
  const v = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.error
      ? 'unknown'
      : `${r.stdout}${r.stderr}`
          .trim()
          .split('\n')[0]
          .replace(/ sha=.*/, '');
  };
  const kafkaVersion = process.env.KAFKA_VERSION || '4.4.0';
  return [
    `- CPU: ${cpus.length} x ${cpus[0]?.model ?? 'unknown'}; memory ${fmt(os.totalmem() / 2 ** 30, 1)} GiB; ${os.type()} ${os.release()}`,
    `- Node ${process.version}; kafkajs ${require('kafkajs/package.json').version}; Kafka ${kafkaVersion} (1 node); ${v('redis-server', ['--version'])}; ${v('java', ['-version'])}`,
    `- Kafka and Redis on the same machine as the clients (loopback).`,
  ].join('\n');
}

async function main() {
  const report = [`## sluice bench ${new Date().toISOString()}`, '', machine(), ''];
  const started = Date.now();
  try {
    let maxRps = 0;
    if (SECTIONS.has('throughput')) maxRps = await throughput(report);
    if (SECTIONS.has('overhead')) await overhead(report);
    if (SECTIONS.has('latency')) {
      const given = Number(process.env.BENCH_MAX_RPS || 100_000);
      const asked = await latency(report, maxRps || given, maxRps ? 'the passthrough maximum' : `BENCH_MAX_RPS ${fmt(given)}`);
      // Producers that cannot reach the rate next to the job make that run a saturated machine's
      // latency. Half of what they did reach is a load this machine can carry: measured as well.
      if (!asked.rateMet) await latency(report, asked.achieved, 'the rate the producers reached next to the job above');
    }
  } finally {
    await cleanup();
  }
  report.push(`(bench took ${fmt((Date.now() - started) / 1000)} s)`);
  process.stdout.write(report.join('\n') + '\n');
}

async function cleanup() {
  const admin = kafka.admin();
  await admin.connect();
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch((e) => log(`cannot delete topics: ${e.message}`));
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(RUN_ID));
  if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  for (const name of jobNames) {
    const keys = await redis.keys(`sluice:{${name}}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e.stack || e}\n`);
  process.exit(1);
});
