// @ts-check
/**
 * `npm run bench`: sluice against its baselines on the local Kafka and Redis (see docs/benchmarks.md).
 *
 * Environment knobs (defaults in brackets):
 *   BENCH_RECORDS [1000000]   backlog size (records of BENCH_RECORD_BYTES in 8 partitions)
 *   BENCH_RECORD_BYTES [100]  record size
 *   BENCH_REPS [3]            repetitions per throughput figure (the tables show the median and every run)
 *   BENCH_SLOTS [4]           task slots per sluice executor
 *   BENCH_OVERHEAD_BATCHES [100]  batches per overhead measurement
 *   BENCH_OVERHEAD_WARMUP [30]   of those, the first ones after start (reported apart from the steady state)
 *   BENCH_OVERHEAD_EXECUTORS [2]  executors of the overhead runs
 *   BENCH_OVERHEAD_RUNS [3]   runs per overhead figure (the table shows the median of their medians, and each)
 *   BENCH_OVERHEAD_PARTITIONS [8,64,512]  partition counts of the overhead runs
 *   BENCH_LATENCY_SECONDS [15]   duration of the latency run's measured window
 *   BENCH_LATENCY_WARMUP_SECONDS [10]  production at the target rate before the window (not measured)
 *   BENCH_PRODUCERS [rate / 500,000 rounded up, 1 to 4]  kafka-producer-perf-test processes of the latency run
 *   BENCH_MAX_RPS [100000]    the maximum the latency rate is half of, when the throughput section is not run
 *   BENCH_PG_RECORDS [200000]  backlog of the postgres section (records of BENCH_RECORD_BYTES in 8 partitions)
 *   BENCH_SECTIONS [throughput,overhead,latency,postgres,kafka-sink,modes]  which parts to run; `modes`: the
 *                             two source approaches side by side (direct, receiver without and with the log)
 *   BENCH_KAFKA_SINK_*        knobs of the kafka-sink section (bench/kafka-sink.js)
 *   BENCH_MODES_RECORDS [500000]  backlog of the modes section
 *   SLUICE_PG_URL             the postgres section's Postgres (default: deploy/local/postgres.sh up)
 *   KAFKA_BROKERS, REDIS_URL  as everywhere
 * Output: a markdown report on stdout (machine, commit, command, load average, a summary against the
 * targets, one table per benchmark), the form docs/benchmarks.md shows; progress on stderr. Topics,
 * consumer groups and Redis keys it creates are removed.
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
const SECTIONS = new Set((process.env.BENCH_SECTIONS || 'throughput,overhead,latency,postgres,kafka-sink,modes').split(','));
const PG_RECORDS = Number(process.env.BENCH_PG_RECORDS || 200_000);
const MODES_RECORDS = Number(process.env.BENCH_MODES_RECORDS || 500_000);
const PARTITIONS = 8;
/** Batch overhead targets (ms, one record per partition, steady state) by partition count. */
const OVERHEAD_TARGETS_MS = /** @type {Record<number, number>} */ ({ 64: 10, 512: 50 });
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
/** The median of `xs`, then every value in brackets: `2.10 (2.05; 2.10; 2.31)`. */
const withRuns = (xs, d = 0) => (xs.length > 1 ? `${fmt(median(xs), d)} (${xs.map((x) => fmt(x, d)).join('; ')})` : fmt(xs[0], d));
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
 * Spawns a Node process; `stdin: 'pipe'` for one the harness talks to.
 * @param {string[]} args
 * @param {{ env?: Record<string, string>, stdin?: 'ignore' | 'pipe' }} [o]
 */
function start(args, { env = {}, stdin = 'ignore' } = {}) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
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

/**
 * Kafka's own `kafka-consumer-perf-test` (Java client, the broker's jars), one consumer over the
 * whole topic. `rps` is its fetch.nMsg.sec: records over the time from the group's assignment to
 * the last record (its own rebalance time left out), the like of the other rows' windows.
 * `wallSeconds`: from the process start (JVM start-up included) to the last record.
 * @param {string} topic
 */
async function consumerPerf(topic) {
  const spawnedAt = Date.now();
  const child = spawn(
    'bash',
    [
      KAFKA_SH,
      'consumer-perf',
      '--bootstrap-server',
      BROKERS,
      '--topic',
      topic,
      '--group',
      `bench-perf-${RUN_ID}-${Math.random().toString(36).slice(2, 8)}`,
      '--num-records',
      String(RECORDS),
      '--timeout',
      '60000',
      // ISO 8601 with the offset, so that Date.parse reads end.time.
      '--date-format',
      "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  if (code !== 0 || header < 0 || header + 1 >= lines.length) throw new Error(`kafka-consumer-perf-test exited ${code}: ${out}`);
  const names = lines[header].split(',').map((s) => s.trim());
  const values = lines[header + 1].split(',').map((s) => s.trim());
  const get = (k) => values[names.indexOf(k)];
  if (Number(get('data.consumed.in.nMsg')) !== RECORDS)
    throw new Error(`kafka-consumer-perf-test read ${get('data.consumed.in.nMsg')} records: ${out}`);
  return { rps: Number(get('fetch.nMsg.sec')), wallSeconds: (Date.parse(get('end.time')) - spawnedAt) / 1000 };
}

/**
 * What a kafkajs consumer process has said so far (see kafkajs-consumer.js).
 * @param {string} stdout
 */
function kafkajsState(stdout) {
  /** @type {number[][]} every assignment, in order */
  const assignments = [];
  let fetching = Infinity;
  /** @type {Map<number, { next: number, ms: number }>} */
  const committed = new Map();
  for (const line of stdout.slice(0, stdout.lastIndexOf('\n')).split('\n')) {
    const [what, ...args] = line.split(' ');
    if (what === 'assigned') assignments.push(args[1] ? args[1].split(',').map(Number) : []);
    else if (what === 'fetching') fetching = Number(args[0]);
    else if (what === 'committed') {
      const [partition, next, ms] = args.map(Number);
      if (next > (committed.get(partition)?.next ?? -1)) committed.set(partition, { next, ms });
    }
  }
  return { assignments, fetching, committed };
}

/**
 * A kafkajs consumer group of `consumers` members over the backlog, timed only once the group has
 * settled: the members join with the topic paused, and are told to start when every partition is
 * assigned and every member holds some. The window: the first Fetch after that to the last commit.
 * `wallSeconds`: from the processes' start (the group's settling included) to the last commit.
 * @param {{ topic: string, work: string, consumers: number, ends: Array<{ partition: number, low: number, high: number }> }} o
 */
async function kafkajsGroup({ topic, work, consumers, ends }) {
  const group = `bench-kafkajs-${RUN_ID}-${Math.random().toString(36).slice(2, 8)}`;
  const key = `bench:{${group}}:out`;
  const spawnedAt = Date.now();
  const procs = Array.from({ length: consumers }, () =>
    start([path.join(__dirname, 'kafkajs-consumer.js'), topic, group, work, key], { stdin: 'pipe' })
  );
  /** @param {() => boolean} cond @param {string} what */
  const waitFor = async (cond, what) => {
    const deadline = Date.now() + 300_000;
    while (!cond()) {
      const failed = procs.find((p) => p.child.exitCode !== null);
      if (failed || Date.now() > deadline)
        throw new Error(
          `kafkajs baseline: ${failed ? 'a consumer exited' : 'timed out'} ${what}: ${procs.map((p) => p.stderr).join('\n')}`
        );
      await sleep(20);
    }
  };
  try {
    let states = procs.map((p) => kafkajsState(p.stdout));
    await waitFor(() => {
      states = procs.map((p) => kafkajsState(p.stdout));
      const latest = states.map((s) => s.assignments[s.assignments.length - 1] ?? []);
      const all = new Set(latest.flat());
      return latest.every((a) => a.length > 0) && all.size === ends.length && latest.flat().length === ends.length;
    }, 'before every member held partitions');
    const split = states.map((s) => s.assignments[s.assignments.length - 1].length);
    const joins = states.map((s) => s.assignments.length);
    for (const p of procs) p.child.stdin?.write('go\n');
    await waitFor(() => {
      states = procs.map((p) => kafkajsState(p.stdout));
      if (states.some((s, i) => s.assignments.length !== joins[i])) throw new Error('kafkajs baseline: the group rebalanced while timed');
      return ends.every(({ partition, high }) => states.some((s) => (s.committed.get(partition)?.next ?? -1) >= high));
    }, 'before every record was committed');
    const records = ends.reduce((a, e) => a + e.high - e.low, 0);
    if (work === 'passthrough') {
      const counted = Number(await redis.hget(key, 'records'));
      if (counted !== records) throw new Error(`kafkajs baseline counted ${counted} records, ${records} in the topic`);
    }
    const first = Math.min(...states.map((s) => s.fetching));
    const last = Math.max(...states.flatMap((s) => [...s.committed.values()].map((c) => c.ms)));
    return {
      rps: records / ((last - first) / 1000),
      wallSeconds: (last - spawnedAt) / 1000,
      split: split.join('/'),
      cpuPerM: (procs.reduce((a, p) => a + p.cpu, 0) / records) * 1e6,
      workerRss: Math.max(...procs.map((p) => p.hwm)),
    };
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await redis.del(key);
  }
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
 * after `stopAfterMs`, or after `stop()`) and the executors are stopped. `spawnedAt`: when the
 * processes were started.
 * @param {{ job: string, topic: string, executors: number, args?: string[], env?: Record<string,string>, stopAfterMs?: number }} o
 */
function startSluice(o) {
  const name = `bench-${RUN_ID}-${jobNames.length}`;
  jobNames.push(name);
  const port = nextPort++;
  const common = ['--job', o.job, '--name', name, '--topics', o.topic];
  const spawnedAt = Date.now();
  const driver = start([CLI, 'driver', ...common, '--grpc-port', String(port), '--min-executors', String(o.executors), ...(o.args || [])], {
    env: o.env,
  });
  const execs = Array.from({ length: o.executors }, () =>
    start([CLI, 'executor', ...common, '--driver', `127.0.0.1:${port}`, '--slots', String(SLOTS), '--grpc-port', '0'], { env: o.env })
  );
  const stop = () => driver.child.kill('SIGTERM');
  if (o.stopAfterMs !== undefined) setTimeout(stop, o.stopAfterMs);
  const finished = (async () => {
    const code = await driver.exited;
    for (const e of execs) e.child.kill('SIGTERM');
    await Promise.all(execs.map((e) => e.exited));
    if (code !== 0) throw new Error(`sluice driver exited ${code}: ${driver.stderr}`);
    return { name, driver, execs, spawnedAt, ...(await batches(name, driver.stdout)) };
  })();
  return { name, driver, stop, finished };
}

/**
 * A finished job's batches: the summaries from its `batches` stream, and the timings of each
 * `batch …` line the driver printed.
 * @param {string} name @param {string} driverStdout
 */
async function batches(name, driverStdout) {
  const entries = await redis.xrange(`sluice:{${name}}:batches`, '-', '+');
  const summaries = entries.map(([, f]) => JSON.parse(f[f.indexOf('summary') + 1]));
  const lines = driverStdout
    .split('\n')
    .map((l) => /^batch (\d+): (\d+) records.*processing time (\d+) ms \(plan (\d+) ms, commit (\d+) ms\)/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ id: Number(m[1]), records: Number(m[2]), processing: Number(m[3]), plan: Number(m[4]), commit: Number(m[5]) }));
  return { summaries, lines };
}

/**
 * A job's timed window over the backlog: first plan to last batch committed (epoch ms).
 * @param {{ summaries: any[], lines: Array<{ commit: number }> }} r @param {string} what @param {number} [expected]
 */
function backlogWindow({ summaries, lines }, what, expected = RECORDS) {
  const records = summaries.reduce((a, s) => a + s.records, 0);
  if (records !== expected) throw new Error(`${what} committed ${records} records, expected ${expected}`);
  const first = summaries[0];
  const last = summaries[summaries.length - 1];
  const lastLine = lines[lines.length - 1];
  const startMs = first.time + first.schedulingDelayMs;
  const endMs = last.time + last.totalDelayMs + (lastLine ? lastLine.commit : 0);
  return { records, startMs, endMs };
}

async function sluiceThroughput(job, topic, executors, { env = {}, expected = RECORDS, args = [] } = {}) {
  const r = await sluice({ job, topic, executors, env, args: ['--until', 'latest', '--starting-offsets', 'earliest', ...args] });
  const { records, startMs, endMs } = backlogWindow(r, `sluice ${job}`, expected);
  const cpu = r.driver.cpu + r.execs.reduce((a, e) => a + e.cpu, 0);
  return {
    rps: records / ((endMs - startMs) / 1000),
    wallSeconds: (endMs - r.spawnedAt) / 1000,
    cpuPerM: (cpu / records) * 1e6,
    driverRss: r.driver.hwm,
    workerRss: Math.max(...r.execs.map((e) => e.hwm)),
  };
}

/**
 * The one command a user starts, `sluice run … --until latest` (which starts the driver and the
 * executors itself): its wall time is from its start to its exit, the shutdown included.
 */
async function sluiceRunCommand(job, topic, executors) {
  const name = `bench-${RUN_ID}-${jobNames.length}`;
  jobNames.push(name);
  const spawnedAt = Date.now();
  const run = start([
    CLI,
    'run',
    ...['--job', job, '--name', name, '--topics', topic, '--executors', String(executors), '--slots', String(SLOTS)],
    ...['--until', 'latest', '--starting-offsets', 'earliest'],
  ]);
  const code = await run.exited;
  const exitedAt = Date.now();
  if (code !== 0) throw new Error(`sluice run exited ${code}: ${run.stderr}`);
  const { records, startMs, endMs } = backlogWindow(await batches(name, run.stdout), `sluice run ${job}`);
  return { rps: records / ((endMs - startMs) / 1000), wallSeconds: (exitedAt - spawnedAt) / 1000 };
}

// ------------------------------------------------------------------------------------------------
// Sections

async function throughput(report) {
  const topic = `bench-tp-${RUN_ID}`;
  await createTopic(topic, PARTITIONS);
  log(`producing ${RECORDS} records of ${RECORD_BYTES} bytes to ${topic}`);
  await produce(topic, RECORDS, PARTITIONS);
  const admin = kafka.admin();
  await admin.connect();
  const ends = (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
  await admin.disconnect();

  /** @template T @param {() => Promise<T>} fn */
  const reps = async (fn) => {
    const out = [];
    for (let i = 0; i < REPS; i++) out.push(await fn());
    return out;
  };
  const med = (rs, k) => median(rs.map((r) => r[k]));
  /** @type {Array<{ label: string, rs: any[], against?: any[] }>} each consumer's runs; `against`: its kafkajs baseline's */
  const rows = [];

  log('kafka-consumer-perf-test');
  const perf = await reps(() => consumerPerf(topic));
  rows.push({ label: 'kafka-consumer-perf-test (Java, 1 consumer; fetch.nMsg.sec)', rs: perf });

  /** @type {Record<string, any[]>} */
  const kafkajs = {};
  for (const work of ['passthrough', 'word-count']) {
    for (const n of [1, 2]) {
      log(`kafkajs group ${work} x${n}`);
      const rs = await reps(() => kafkajsGroup({ topic, work, consumers: n, ends }));
      kafkajs[`${work}/${n}`] = rs;
      const splits = [...new Set(rs.map((r) => r.split))].join(', ');
      rows.push({ label: `kafkajs group, ${work}, ${n} consumer${n > 1 ? 's' : ''} (${splits})`, rs, against: rs });
    }
  }
  const jobs = { passthrough: path.join(__dirname, 'jobs/passthrough.js'), 'word-count': path.join(ROOT, 'examples/word-count') };
  /** @type {Record<string, any[]>} */
  const ours = {};
  for (const work of ['passthrough', 'word-count']) {
    for (const n of [1, 2]) {
      log(`sluice ${work} x${n}`);
      const rs = await reps(() => sluiceThroughput(jobs[work], topic, n));
      ours[`${work}/${n}`] = rs;
      rows.push({ label: `**sluice ${work}, ${n} executor${n > 1 ? 's' : ''}**`, rs, against: kafkajs[`${work}/${n}`] });
    }
  }
  log('sluice run passthrough x2');
  const runCommand = await reps(() => sluiceRunCommand(jobs.passthrough, topic, 2));
  rows.push({
    label: '**`sluice run`, passthrough, 2 executors** (one command; wall time to its exit)',
    rs: runCommand,
    against: kafkajs['passthrough/2'],
  });
  // Memory: the same executor over ranges 10x shorter (one batch capped by maxRatePerPartition).
  log('sluice passthrough x1, ranges 10x shorter (memory)');
  const perPartition = Math.max(1, Math.floor(RECORDS / PARTITIONS / 10));
  // Both with 1 MiB per partition fetch, so that even the short ranges take several fetches.
  const oneBatch = (len) =>
    reps(async () => {
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
  const memoryRatio = med(long, 'execRss') / med(short, 'execRss');

  const ofRuns = REPS > 1 ? `median of ${REPS} runs, the runs in brackets` : '1 run';
  const perfRps = med(perf, 'rps');
  const perfWall = med(perf, 'wallSeconds');
  report.push(
    `### Throughput: ${fmt(RECORDS)} records of ${RECORD_BYTES} B in ${PARTITIONS} partitions (${ofRuns})`,
    '',
    "Records/s over each consumer's timed window: consumer-perf from its assignment to the last record (its fetch.nMsg.sec); " +
      'kafkajs from the first Fetch once the whole group has settled to the last commit; sluice from the first plan to the last batch committed. ' +
      "Wall time, start-up included: from the processes' start to the last record read (consumer-perf) or committed; for `sluice run`, from its start to its exit. " +
      'Ratios: records/s against records/s, and the baseline\'s wall time against this one\'s; "kafkajs" is the kafkajs group doing the same work with as many processes.',
    '',
    '| consumer | records/s, window | vs consumer-perf | vs kafkajs | wall time (s), from process start | vs consumer-perf, wall | vs kafkajs, wall | CPU s per 1M records | driver peak RSS (MiB) | executor/consumer peak RSS (MiB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(({ label, rs, against }) => {
      const rps = med(rs, 'rps');
      const wall = med(rs, 'wallSeconds');
      const isPerf = rs === perf;
      /** @param {string} k @param {number} [d] */
      const measured = (k, d) => (rs[0][k] === undefined ? '' : fmt(med(rs, k), d));
      return `| ${[
        label,
        withRuns(rs.map((r) => r.rps)),
        isPerf ? '1.00x' : ratio(rps, perfRps),
        against ? ratio(rps, med(against, 'rps')) : '',
        withRuns(
          rs.map((r) => r.wallSeconds),
          2
        ),
        isPerf ? '1.00x' : ratio(perfWall, wall),
        against ? ratio(med(against, 'wallSeconds'), wall) : '',
        measured('cpuPerM', 1),
        measured('driverRss'),
        measured('workerRss'),
      ].join(' | ')} |`;
    }),
    '',
    `### Executor memory: peak RSS (MiB) of one passthrough executor (${SLOTS} slots), ${ofRuns}`,
    '',
    '| run | peak RSS (MiB) |',
    '|---|---:|',
    `| one batch, ranges of ${fmt(perPartition)} records per partition, \`kafka.partitionMaxBytes\` 1 MiB | ${withRuns(short.map((r) => r.execRss))} |`,
    `| one batch, ranges 10x longer (${fmt(perPartition * 10)}), \`kafka.partitionMaxBytes\` 1 MiB | ${withRuns(long.map((r) => r.execRss))} |`,
    `| the whole backlog, default 4 MiB (the throughput runs, 1 executor) | ${withRuns(ours['passthrough/1'].map((r) => r.workerRss))} |`,
    '',
    `Ranges 10x longer took ${fmt(memoryRatio, 2)}x the peak RSS (target: bounded by the fetch sizes, not the range length).`,
    ''
  );
  return { perf, kafkajs, ours, runCommand, memoryRatio, short, long };
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
  /** @type {Array<{ partitions: number, full: number[], empty: number[], target: number | undefined }>} */
  const results = [];
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
    const target = OVERHEAD_TARGETS_MS[partitions];
    results.push({ partitions, full: runs.map((r) => r.full), empty: runs.map((r) => r.empty), target });
    const verdict = (x) => (x <= target ? 'met' : 'NOT met');
    rows.push([
      String(partitions),
      withRuns(runs.map((r) => r.full)),
      `plan ${fmt(of('plan'))}, processing ${fmt(of('processing'))}, commit ${fmt(of('commit'))}`,
      withRuns(runs.map((r) => r.cold)),
      `${withRuns(runs.map((r) => r.empty))}: plan ${fmt(of('emptyPlan'))}, commit ${fmt(of('emptyCommit'))}`,
      target === undefined ? '' : `≤ ${target} ms: 1/partition ${verdict(f)}, empty ${verdict(e)}`,
    ]);
  }
  report.push(
    `### Batch overhead: plan to batch committed, ms (median of ${OVERHEAD_RUNS} runs' medians, each run's median in brackets; ${OVERHEAD_EXECUTORS} executor${OVERHEAD_EXECUTORS > 1 ? 's' : ''})`,
    '',
    `Steady state: batches ${OVERHEAD_WARMUP + 1} to ${OVERHEAD_BATCHES} of a run; after start: batches 2 to ${OVERHEAD_WARMUP}. ` +
      `Each run is a job of its own over the same records; the parts of a batch are medians over the runs too.`,
    `One batch waits on about 8 round trips between processes (plan: Redis and Kafka, plan write; tasks: call, Fetch, commit, answer; batch commit).`,
    `On this machine one round trip (Redis PING, median) takes ${fmt(hot, 2)} ms back to back and ${fmt(afterIdle, 2)} ms after 100 ms of idling.`,
    '',
    '| partitions | 1 record per partition, steady | its parts | 1 record per partition, after start | empty batch, steady | target (steady) |',
    '|---:|---:|---|---:|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    ''
  );
  return results;
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
  return { rate, achieved, rateMet, p50, p99 };
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

/** The commit measured and the command, so that a report says what produced it. */
function provenance() {
  const git = (...args) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).stdout.trim();
  const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
  const knobs = Object.keys(process.env)
    .filter((k) => k.startsWith('BENCH_'))
    .sort()
    .map((k) => `${k}=${process.env[k]} `)
    .join('');
  const load = () =>
    os
      .loadavg()
      .map((x) => fmt(x, 2))
      .join(', ');
  return {
    lines: [
      `- Commit \`${git('rev-parse', '--short', 'HEAD') || 'unknown'}\`${dirty ? ' with uncommitted changes' : ''}; command: \`${knobs}node bench/run.js\` (after \`npm run build\`)`,
      `- Load average (1, 5, 15 min) at the start: ${load()}`,
    ],
    atEnd: () => `- Load average at the end: ${load()}`,
  };
}

/** One row per benchmark and its target, from the sections' results. */
function summary({ tp, ov, lat }) {
  const rows = [];
  if (tp) {
    const med = (rs, k) => median(rs.map((r) => r[k]));
    const ours = tp.ours['passthrough/2'];
    const theirs = tp.kafkajs['passthrough/2'];
    const splits = [...new Set(theirs.map((r) => r.split))].join(', ');
    const walls = (rs) => rs.map((r) => r.wallSeconds);
    const vsKafkajs = med(ours, 'rps') / med(theirs, 'rps');
    rows.push([
      'throughput, passthrough, 2 executors',
      `${withRuns(ours.map((r) => r.rps))} records/s: **${fmt(vsKafkajs, 2)}x** the kafkajs group of 2 consumers (${splits}), ` +
        `${ratio(med(ours, 'rps'), med(tp.perf, 'rps'))} kafka-consumer-perf-test's fetch rate. From process start: ` +
        `${withRuns(walls(ours), 2)} s (\`sluice run\` to its exit: ${withRuns(walls(tp.runCommand), 2)} s), ` +
        `against ${fmt(median(walls(theirs)), 2)} s (kafkajs) and ${fmt(median(walls(tp.perf)), 2)} s (consumer-perf)`,
      `≥ 1.0x kafkajs: **${vsKafkajs >= 1 ? 'met' : 'NOT met'}**`,
    ]);
    rows.push([
      'executor memory, 10x longer ranges',
      `**${fmt(tp.memoryRatio, 2)}x** the peak RSS (${fmt(med(tp.short, 'execRss'))} → ${fmt(med(tp.long, 'execRss'))} MiB)`,
      'bounded by the fetch sizes, not the range length (proportional would be 10x)',
    ]);
  }
  if (ov) {
    const judged = ov.filter((r) => r.target !== undefined);
    rows.push([
      'batch overhead, one record per partition, steady state',
      judged
        .map((r) => `**${fmt(median(r.full))} ms** at ${r.partitions} partitions (runs ${r.full.map((x) => fmt(x)).join(', ')})`)
        .join(', '),
      `${judged.map((r) => `≤ ${r.target} ms at ${r.partitions}`).join(', ')}: **${judged.every((r) => median(r.full) <= r.target) ? 'met' : 'NOT met'}**`,
    ]);
  }
  if (lat) {
    const [asked, fallback] = lat;
    const met = (l) => (l.p99 <= 1000 ? 'met' : 'NOT met');
    rows.push([
      'latency, production to commit, 500 ms batch interval',
      asked.rateMet || !fallback
        ? `p50 ${fmt(asked.p50)} ms, **p99 ${fmt(asked.p99)} ms** at ${fmt(asked.achieved)} records/s (target rate ${fmt(asked.rate)})`
        : `target rate ${fmt(asked.rate)} records/s not reached (producers: ${fmt(asked.achieved)}; p99 ${fmt(asked.p99)} ms); at half of that, ${fmt(fallback.achieved)} records/s: p50 ${fmt(fallback.p50)} ms, **p99 ${fmt(fallback.p99)} ms**`,
      `p99 ≤ 1000 ms at half the maximum throughput: **${asked.rateMet ? met(asked) : `not measured at the target rate; ${fallback ? met(fallback) : 'n/a'} at the rate reached`}**`,
    ]);
  }
  return ['### Summary', '', '| benchmark | result | target |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`), ''];
}

/**
 * postgresSink against idempotentSink, both writing one row per record to the same kind of table
 * (a unique schema per run, dropped after), 2 executors.
 */
async function postgres(report) {
  const { Client } = require('pg');
  const url =
    process.env.SLUICE_PG_URL ||
    /^SLUICE_PG_URL=(.+)$/m.exec(execFileSync('bash', [path.join(ROOT, 'deploy/local/postgres.sh'), 'up'], { encoding: 'utf8' }))?.[1];
  if (!url) throw new Error('deploy/local/postgres.sh up reported no SLUICE_PG_URL');
  const topic = `bench-pg-${RUN_ID}`;
  await createTopic(topic, PARTITIONS);
  log(`producing ${PG_RECORDS} records of ${RECORD_BYTES} bytes to ${topic}`);
  await produce(topic, PG_RECORDS, PARTITIONS);
  const job = path.join(__dirname, 'jobs/pg-rows.js');
  const runs = {};
  for (const sink of ['postgres', 'idempotent']) {
    const schema = `bench_${sink}_${RUN_ID}`;
    const env = { SLUICE_PG_URL: url, BENCH_PG_SINK: sink, BENCH_PG_SCHEMA: schema };
    runs[sink] = [];
    try {
      for (let i = 0; i < REPS; i++) {
        log(`sluice pg-rows, ${sink}Sink x2 (run ${i + 1})`);
        runs[sink].push(await sluiceThroughput(job, topic, 2, { env, expected: PG_RECORDS }));
        const client = new Client({ connectionString: url });
        await client.connect();
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".bench_rows`);
        // Every run writes the same rows: the table holds the backlog once.
        if (rows[0].n !== PG_RECORDS) throw new Error(`${sink}Sink left ${rows[0].n} rows, expected ${PG_RECORDS}`);
        await client.end();
      }
    } finally {
      const client = new Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
  const rps = (sink) => median(runs[sink].map((r) => r.rps));
  const ofRuns = REPS > 1 ? `median of ${REPS} runs, the runs in brackets` : '1 run';
  report.push(
    `### Postgres sinks: ${fmt(PG_RECORDS)} records of ${RECORD_BYTES} B in ${PARTITIONS} partitions, one row each, 2 executors (${ofRuns})`,
    '',
    'Records/s from the first plan to the last batch committed. Both write the same rows with the same INSERT; postgresSink in one ' +
      'transaction with the fence row and the offset row, idempotentSink on a pool of its own followed by the Redis commit.',
    '',
    '| sink | guarantee | records/s, window | vs idempotentSink | CPU s per 1M records |',
    '|---|---|---:|---:|---:|',
    `| **postgresSink** | exactly-once | ${withRuns(runs.postgres.map((r) => r.rps))} | ${ratio(rps('postgres'), rps('idempotent'))} | ${fmt(median(runs.postgres.map((r) => r.cpuPerM)), 1)} |`,
    `| idempotentSink (same INSERT, ON CONFLICT DO NOTHING) | at-least-once | ${withRuns(runs.idempotent.map((r) => r.rps))} | 1.00x | ${fmt(median(runs.idempotent.map((r) => r.cpuPerM)), 1)} |`,
    ''
  );
  return runs;
}

/**
 * The two approaches on the same backlog, passthrough job, 2 executors: the direct approach (a
 * bounded run), receiver mode without and with the write-ahead log (run until the backlog is
 * committed, then stopped). Records/s over the window from the first batch (for receivers, one batch
 * interval before it: they receive meanwhile) to the last one committed; CPU of every process;
 * for the log, the bytes written to it against the key and value bytes received from Kafka.
 */
async function modes(report) {
  const topic = `bench-modes-${RUN_ID}`;
  await createTopic(topic, PARTITIONS);
  log(`producing ${MODES_RECORDS} records of ${RECORD_BYTES} bytes to ${topic}`);
  await produce(topic, MODES_RECORDS, PARTITIONS);
  const job = path.join(__dirname, 'jobs/passthrough.js');
  const intervalMs = 500;
  const directRuns = [];
  for (let rep = 0; rep < REPS; rep++) {
    log(`sluice passthrough x2, direct (run ${rep + 1}/${REPS})`);
    const r = await sluiceThroughput(job, topic, 2, { expected: MODES_RECORDS, args: ['--batch-interval-ms', String(intervalMs)] });
    directRuns.push({ rps: r.rps, cpuPerM: r.cpuPerM, log: null });
  }
  const rows = [{ label: 'direct (offset ranges planned by the driver)', runs: directRuns }];
  for (const wal of [false, true]) {
    const runs = [];
    for (let rep = 0; rep < REPS; rep++) {
      log(`sluice passthrough x2, receiver mode, write-ahead log ${wal ? 'on' : 'off'} (run ${rep + 1}/${REPS})`);
      runs.push(await receiverRun({ job, topic, intervalMs, wal }));
    }
    rows.push({ label: `receiver, write-ahead log ${wal ? 'on (Redis Stream)' : 'off'}`, runs });
  }
  const directRps = median(directRuns.map((r) => r.rps));
  report.push(
    `### Source modes: ${fmt(MODES_RECORDS)} records of ${RECORD_BYTES} B in ${PARTITIONS} partitions, passthrough, 2 executors (median of ${REPS} runs, the runs in brackets)`,
    '',
    'Records/s from the first batch to the last one committed (receivers: from one batch interval before the first batch). ' +
      'Write-ahead log: bytes written to the Redis Stream against the key and value bytes received from Kafka.',
    '',
    '| mode | records/s, window | vs direct | CPU s per 1M records | log bytes written / bytes received |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(({ label, runs }) => {
      const rps = median(runs.map((r) => r.rps));
      const logged = runs.filter((r) => r.log);
      const written = median(logged.map((r) => r.log.written));
      const received = median(logged.map((r) => r.log.received));
      const log = logged.length ? `${fmt(written / 1e6, 1)} MB / ${fmt(received / 1e6, 1)} MB (${ratio(written, received)})` : '-';
      return `| ${label} | ${withRuns(runs.map((r) => r.rps))} | ${ratio(rps, directRps)} | ${withRuns(
        runs.map((r) => r.cpuPerM),
        1
      )} | ${log} |`;
    }),
    ''
  );
  return rows;
}

/** One receiver-mode run over the whole backlog (a job of its own, so a group of its own). */
async function receiverRun({ job, topic, intervalMs, wal }) {
  const httpPort = nextPort++;
  const run = startSluice({
    job,
    topic,
    executors: 2,
    // The mode and the log are for the executors too: through the environment, which both read.
    env: { SLUICE_SOURCE_MODE: 'receiver', SLUICE_RECEIVER_WRITE_AHEAD_LOG: String(wal) },
    args: ['--starting-offsets', 'earliest', '--batch-interval-ms', String(intervalMs), '--http-port', String(httpPort)],
  });
  for (;;) {
    const done = Number((await redis.hget(`sluice:{${run.name}}:totals`, 'records')) ?? 0);
    if (done >= MODES_RECORDS) break;
    await sleep(200);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const gauge = (name) => [...metrics.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  run.stop();
  const r = await run.finished;
  const busy = r.summaries.filter((b) => b.records > 0);
  const records = busy.reduce((a, b) => a + b.records, 0);
  if (records !== MODES_RECORDS) throw new Error(`receiver mode committed ${records} records, expected ${MODES_RECORDS}`);
  const first = busy[0];
  const last = busy[busy.length - 1];
  const seconds = (last.time + last.totalDelayMs - (first.time - intervalMs)) / 1000;
  const cpu = r.driver.cpu + r.execs.reduce((a, e) => a + e.cpu, 0);
  return {
    rps: records / seconds,
    cpuPerM: (cpu / records) * 1e6,
    log: wal ? { written: gauge('sluice_receiver_log_written_bytes'), received: gauge('sluice_receiver_bytes') } : null,
  };
}

async function main() {
  const about = provenance();
  const head = [`## sluice bench ${new Date().toISOString()}`, '', machine(), ...about.lines];
  const report = [];
  const results = {};
  const started = Date.now();
  try {
    if (SECTIONS.has('throughput')) results.tp = await throughput(report);
    if (SECTIONS.has('overhead')) results.ov = await overhead(report);
    if (SECTIONS.has('postgres')) results.pg = await postgres(report);
    if (SECTIONS.has('kafka-sink')) {
      const helpers = { kafka, log, sleep, fmt, median, withRuns, ratio, createTopic, produce, sluiceThroughput, startSluice };
      const constants = { RUN_ID, BROKERS, REPS, RECORD_BYTES, PARTITIONS };
      results.ks = await require('./kafka-sink').kafkaSinkSection(report, { ...helpers, ...constants });
    }
    if (SECTIONS.has('modes')) results.modes = await modes(report);
    if (SECTIONS.has('latency')) {
      const passthrough = results.tp ? [1, 2].map((n) => median(results.tp.ours[`passthrough/${n}`].map((r) => r.rps))) : [0];
      const maxRps = Math.max(...passthrough);
      const given = Number(process.env.BENCH_MAX_RPS || 100_000);
      const asked = await latency(report, maxRps || given, maxRps ? 'the passthrough maximum' : `BENCH_MAX_RPS ${fmt(given)}`);
      results.lat = [asked];
      // Producers that cannot reach the rate next to the job make that run a saturated machine's
      // latency. Half of what they did reach is a load this machine can carry: measured as well.
      if (!asked.rateMet) results.lat.push(await latency(report, asked.achieved, 'the rate the producers reached next to the job above'));
    }
  } finally {
    await cleanup();
  }
  head.push(about.atEnd(), `- The bench took ${fmt((Date.now() - started) / 1000)} s`, '');
  process.stdout.write([...head, ...summary(results), ...report].join('\n') + '\n');
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
