import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CheckpointStore,
  ConfigError,
  jobKeys,
  kafkajsSecurity,
  createLogger,
  kafkajsLogCreator,
  kafkajsLogLevel,
  partitionKey,
  readLeaseHolder,
} from '@sluice/common';
import { Kafka, type Producer } from 'kafkajs';
import { commandConfig, connectionFlags, flagArgs, jobNameFlag } from './options';
import { formatReport, percentiles, recordValue, runKeys, tallyIds, type LoadReport } from './load-report';

/**
 * `sluice load`: produces records carrying an id and their production time to a topic at a target
 * rate for a fixed time, waits until the load job (examples/load) has committed them, and reports
 * rate, throughput, production-to-commit latency, duplicates and missing ids. With `--check` it
 * only checks a run produced earlier (for instance by the k6 script in deploy/k6).
 */

export interface LoadFlags {
  topic: string;
  rate: string;
  duration: string;
  partitions: string;
  size: string;
  jobName: string;
  timeout: string;
  producers: string;
  json?: boolean;
  run?: boolean;
  job?: string;
  executors: string;
  batchIntervalMs?: string;
  check?: string;
  expected?: string;
  config?: string;
  brokers?: string;
  redisUrl?: string;
}

/** Records per produce request at most: a loop that fell behind catches up in bounded requests. */
const MAX_REQUEST_RECORDS = 5_000;
/** Produce requests in flight per producer connection at most (the loop waits beyond that). */
const MAX_IN_FLIGHT = 4;
const TICK_MS = 5;
const POLL_MS = 200;

const log = (line: string): boolean => process.stderr.write(`sluice load: ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain decimal number above 0 (no hex, exponent or padding), an integer where `integer`. */
function positive(flag: string, raw: string, integer: boolean): number {
  if (!(integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(raw) || Number(raw) <= 0)
    throw new ConfigError(`--${flag}: expected a positive ${integer ? 'integer' : 'number'}, got '${raw}'`);
  return Number(raw);
}

/** The load job shipped with sluice (examples/load, copied into dist by the build), for `--run` without `--job`. */
function defaultJob(): string {
  const bundled = join(__dirname, 'jobs', 'load.js');
  if (!existsSync(bundled)) throw new ConfigError(`--run: the bundled load job was not found at ${bundled}; pass --job <module>`);
  return bundled;
}

/** Hash fields and counts, read with HSCAN (a run's id hash may hold millions of fields). */
async function readHash(store: CheckpointStore, key: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, flat] = await store.client.hscan(key, cursor, 'COUNT', 10_000);
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as string, Number(flat[i + 1]));
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function ensureTopic(kafka: Kafka, topic: string, partitions: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      log(`creating topic ${topic} with ${partitions} partitions`);
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    }
    // Metadata of a topic just created may lag for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const count = metadata.topics[0]?.partitions.length ?? 0;
        if (count > 0) return count;
      } catch (e) {
        if (attempt >= 50) throw e;
      }
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
}

async function endOffsets(kafka: Kafka, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [String(o.partition), o.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** `sluice run` of the load job, its stdout (batch lines) sent to stderr so stdout stays the report. */
async function startJob(
  flags: LoadFlags,
  topic: string,
  startingOffsets: Record<string, string>,
  store: CheckpointStore
): Promise<ChildProcess> {
  const executors = positive('executors', flags.executors, true);
  const args = [
    ...process.execArgv,
    process.argv[1] as string,
    'run',
    '--job',
    flags.job ?? defaultJob(),
    '--name',
    flags.jobName,
    '--topics',
    topic,
    '--executors',
    String(executors),
    // Where the topic ends now: the job reads exactly what this run produces (a job that has a
    // checkpoint already continues from it instead).
    '--starting-offsets',
    JSON.stringify({ [topic]: startingOffsets }),
  ];
  if (flags.config !== undefined) args.push('--config', flags.config);
  args.push(...flagArgs(flags, connectionFlags));
  if (flags.batchIntervalMs !== undefined) args.push('--batch-interval-ms', flags.batchIntervalMs);
  const before = Number((await store.client.get(jobKeys(flags.jobName).committed)) ?? 0);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 2, 2] });
  log(`started sluice run of job ${flags.jobName} with ${executors} executors (pid ${child.pid})`);
  // Ready once a batch commits: executors registered and the first (empty) batch planned, so the
  // latency measured does not include the job's start-up.
  const exited = once(child, 'exit');
  for (;;) {
    const committed = Number((await store.client.get(jobKeys(flags.jobName).committed)) ?? 0);
    if (committed > before) return child;
    const done = await Promise.race([exited.then(() => true), sleep(POLL_MS).then(() => false)]);
    if (done)
      throw new ConfigError(
        `--run: sluice run of job ${flags.jobName} exited with ${child.exitCode ?? child.signalCode} before its first batch`
      );
  }
}

async function stopJob(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

interface Production {
  produced: number;
  failed: Set<number>;
  startedAt: number;
  endedAt: number;
  /** Per partition, one past the highest offset Kafka acknowledged. */
  until: Map<number, bigint>;
}

/**
 * `total` records at `rate` records/s over `producers` connections, round-robin over the
 * partitions. Bounded: at most MAX_IN_FLIGHT requests per connection; a loop behind its schedule
 * sends what is due in requests of at most MAX_REQUEST_RECORDS, so it stops by itself.
 */
async function produce(
  kafka: Kafka,
  topic: string,
  partitions: number,
  run: string,
  rate: number,
  total: number,
  size: number,
  connections: number
): Promise<Production> {
  // Idempotent, acks=all: a retried request never writes a record twice, so a duplicate the report
  // finds is the job's, not the producer's. One request in flight per connection keeps kafkajs's
  // idempotent sequence numbers valid; parallelism comes from several connections.
  const producers: Producer[] = [];
  for (let i = 0; i < connections; i++) {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    producers.push(producer);
  }
  const inFlight: Array<Set<Promise<void>>> = producers.map(() => new Set());
  const failed = new Set<number>();
  const until = new Map<number, bigint>();
  let sent = 0;
  let next = 0;
  const startedAt = Date.now();
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - startedAt) / 1000) * rate));
      while (sent < due) {
        const slot = next++ % producers.length;
        const pending = inFlight[slot] as Set<Promise<void>>;
        if (pending.size >= MAX_IN_FLIGHT) await Promise.race(pending);
        const first = sent;
        const count = Math.min(due - sent, MAX_REQUEST_RECORDS);
        const ts = Date.now();
        const messages = Array.from({ length: count }, (_, i) => ({
          value: recordValue(run, first + i, ts, size),
          partition: (first + i) % partitions,
        }));
        sent += count;
        const request = (producers[slot] as Producer)
          .send({ topic, acks: -1, messages })
          .then((metadata) => {
            for (const m of metadata) {
              const inRequest = messages.filter((msg) => msg.partition === m.partition).length;
              const end = BigInt(m.baseOffset ?? '0') + BigInt(inRequest);
              if (end > (until.get(m.partition) ?? 0n)) until.set(m.partition, end);
            }
          })
          .catch((e: Error) => {
            log(`produce of ${count} records failed: ${e.message}`);
            for (let seq = first; seq < first + count; seq++) failed.add(seq);
          })
          .finally(() => pending.delete(request));
        pending.add(request);
      }
      await sleep(TICK_MS);
    }
    await Promise.all(inFlight.flatMap((s) => [...s]));
  } finally {
    await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
  }
  return { produced: total - failed.size, failed, startedAt, endedAt: Date.now(), until };
}

/** Waits until the job's checkpoint reaches `until` on every partition; false on timeout. */
async function drain(
  store: CheckpointStore,
  topic: string,
  until: Map<number, bigint>,
  timeoutMs: number,
  idsKey: string
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const offsets = await store.readOffsets();
    const behind = [...until].filter(([partition, end]) => (offsets.get(partitionKey({ topic, partition })) ?? -1n) < end);
    if (behind.length === 0) return true;
    if (Date.now() >= deadline) return false;
    if (Date.now() - lastReport >= 2000) {
      lastReport = Date.now();
      log(`waiting for the job: ${await store.client.hlen(idsKey)} ids committed, ${behind.length} partitions behind`);
    }
    await sleep(POLL_MS);
  }
}

/** Runs `sluice load`; resolves to the exit code (1 when anything is missing or duplicated). */
export async function loadCommand(flags: LoadFlags): Promise<number> {
  const config = commandConfig(flags, [{ ...jobNameFlag, flags: '--job-name <name>' }, ...connectionFlags]);
  const logger = createLogger(process.env.LOG_LEVEL === undefined ? 'warn' : config.log.level, { role: 'cli' });
  const timeoutMs = positive('timeout', flags.timeout, false) * 1000;
  const store = await CheckpointStore.connect(config.redis, flags.jobName, { connectTimeoutMs: config.redis.connectTimeoutMs });
  let job: ChildProcess | undefined;
  try {
    if (flags.check !== undefined) {
      if (flags.expected === undefined) throw new ConfigError('--check <run> needs --expected <records> (how many ids the run produced)');
      const expected = Number(flags.expected);
      if (!Number.isInteger(expected) || expected < 0)
        throw new ConfigError(`--expected: expected a non-negative integer, got '${flags.expected}'`);
      return await report(flags, store, {
        run: flags.check,
        job: flags.jobName,
        topic: flags.topic,
        partitions: null,
        produced: expected,
        produceErrors: 0,
        targetRate: null,
        achievedRate: null,
        producedSeconds: null,
        valueBytes: null,
        drained: null,
        drainMs: null,
        throughput: null,
      });
    }

    const rate = positive('rate', flags.rate, false);
    const duration = positive('duration', flags.duration, false);
    const size = positive('size', flags.size, true);
    const connections = positive('producers', flags.producers, true);
    const total = Math.round(rate * duration);
    const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const kafka = new Kafka({
      clientId: 'sluice-load',
      brokers: config.kafka.brokers,
      connectionTimeout: config.kafka.connectionTimeoutMs,
      requestTimeout: config.kafka.requestTimeoutMs,
      logLevel: kafkajsLogLevel(logger),
      logCreator: kafkajsLogCreator(logger),
      ...kafkajsSecurity(config.kafka),
    });
    if (!flags.run && (await readLeaseHolder(store.client, flags.jobName)) === null) {
      throw new ConfigError(
        `no driver of job '${flags.jobName}' is running: start it first (sluice run --job examples/load --name ${flags.jobName} --topics ${flags.topic} --executors 2) or pass --run`
      );
    }
    const partitions = await ensureTopic(kafka, flags.topic, positive('partitions', flags.partitions, true));
    if (flags.run) job = await startJob(flags, flags.topic, await endOffsets(kafka, flags.topic), store);

    log(`run ${run}: producing ${total} records of ${size} bytes to ${flags.topic} at ${rate} records/s for ${duration} s`);
    const production = await produce(kafka, flags.topic, partitions, run, rate, total, size, connections);
    const producedSeconds = (production.endedAt - production.startedAt) / 1000;
    log(`produced ${production.produced} records in ${producedSeconds.toFixed(2)} s; waiting for job ${flags.jobName} to commit them`);
    const drained = await drain(store, flags.topic, production.until, timeoutMs, jobKeys(flags.jobName).output(runKeys(run).ids));
    if (!drained) log(`job ${flags.jobName} did not commit everything within --timeout ${flags.timeout} s`);

    const commits = await readHash(store, jobKeys(flags.jobName).output(runKeys(run).commits));
    const lastCommit = commits.size === 0 ? null : Math.max(...[...commits.keys()].map(Number)) + 100;
    const committedRecords = [...commits.values()].reduce((a, b) => a + b, 0);
    return await report(
      flags,
      store,
      {
        run,
        job: flags.jobName,
        topic: flags.topic,
        partitions,
        produced: production.produced,
        produceErrors: production.failed.size,
        targetRate: rate,
        achievedRate: total / producedSeconds,
        producedSeconds,
        valueBytes: size,
        drained,
        drainMs: drained && lastCommit !== null ? Math.max(0, lastCommit - production.endedAt) : null,
        throughput: lastCommit === null ? null : committedRecords / Math.max(0.001, (lastCommit - production.startedAt) / 1000),
      },
      production.failed
    );
  } finally {
    if (job) await stopJob(job);
    await store.close();
  }
}

type Measured = Omit<
  LoadReport,
  'latencyMs' | 'committed' | 'duplicates' | 'extraDeliveries' | 'missing' | 'unexpected' | 'missingIds' | 'duplicateIds' | 'ok'
>;

async function report(
  flags: LoadFlags,
  store: CheckpointStore,
  measured: Measured,
  failed: ReadonlySet<number> = new Set()
): Promise<number> {
  const keys = runKeys(measured.run);
  const output = (name: string): string => jobKeys(flags.jobName).output(name);
  const [ids, latency] = await Promise.all([readHash(store, output(keys.ids)), readHash(store, output(keys.latency))]);
  const expected = measured.producedSeconds === null ? measured.produced : measured.produced + failed.size;
  const tally = tallyIds(ids, expected, failed);
  const result: LoadReport = {
    ...measured,
    latencyMs: percentiles(latency),
    committed: tally.committed,
    duplicates: tally.duplicates,
    extraDeliveries: tally.extraDeliveries,
    missing: tally.missing,
    unexpected: tally.unexpected,
    missingIds: tally.missingIds.map((seq) => `${measured.run}:${seq}`),
    duplicateIds: tally.duplicateIds.map((seq) => `${measured.run}:${seq}`),
    ok: tally.missing === 0 && tally.duplicates === 0 && measured.produceErrors === 0,
  };
  process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${formatReport(result)}\n`);
  return result.ok ? 0 : 1;
}
