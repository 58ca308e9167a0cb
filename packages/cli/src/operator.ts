import {
  CheckpointStore,
  ConfigError,
  createKafkajsOffsetOracle,
  kafkajsLogCreator,
  kafkajsLogLevel,
  kafkajsSecurity,
  createLogger,
  LeaseHeldError,
  partitionKey,
  readLeaseHolder,
  type BatchSummary,
  type Logger,
  type OffsetOracle,
  type SluiceConfig,
} from '@sluice/common';
import { Kafka } from 'kafkajs';
import { commandConfig, jobNameFlag, operatorFlags, positiveInteger, type ConfigSourceFlags } from './options';
import {
  jobPartitions,
  lagOf,
  offsetRows,
  offsetTable,
  partitionOffsets,
  sortTps,
  splitKey,
  table,
  topicList,
  type OffsetRow,
  type PartitionOffsets,
} from './operator-tables';

/**
 * Operator commands: read (and, for offsets, change) a job's state in Redis and Kafka without its
 * job module. They never need a running driver; `offsets set|reset` refuse while one runs.
 */

export interface OperatorFlags extends ConfigSourceFlags {
  name: string;
  logLevel?: string;
  driverUrl?: string;
  limit?: string;
  topics?: string;
  to?: string;
  execute?: boolean;
  force?: boolean;
  json?: boolean;
}

interface Session {
  config: SluiceConfig;
  logger: Logger;
  store: CheckpointStore;
  oracle(): Promise<OffsetOracle>;
  close(): Promise<void>;
}

/** The configuration of a command that needs only a job's name: its log level defaults to warn. */
export function nameOnlyConfig(flags: ConfigSourceFlags & { name?: string; logLevel?: string }): { config: SluiceConfig; logger: Logger } {
  const config = commandConfig(flags, [jobNameFlag, ...operatorFlags]);
  const levelGiven =
    flags.logLevel !== undefined || process.env.LOG_LEVEL !== undefined || (flags.conf ?? []).some((c) => c.startsWith('log.level='));
  const logger = createLogger(levelGiven ? config.log.level : 'warn', { role: 'cli' });
  return { config, logger };
}

async function open(flags: OperatorFlags): Promise<Session> {
  const { config, logger } = nameOnlyConfig(flags);
  const store = await CheckpointStore.connect(config.redis, flags.name, { connectTimeoutMs: config.redis.connectTimeoutMs });
  let oracle: Promise<OffsetOracle> | undefined;
  return {
    config,
    logger,
    store,
    oracle: () => (oracle ??= createKafkajsOffsetOracle(config.kafka, logger)),
    close: async () => {
      await store.close();
      if (oracle) await (await oracle.catch(() => undefined))?.close();
    },
  };
}

async function withSession(flags: OperatorFlags, fn: (s: Session) => Promise<void>): Promise<void> {
  const session = await open(flags);
  try {
    await fn(session);
  } finally {
    await session.close();
  }
}

const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

/** What `sluice status` shows, and prints as JSON with `--json`: offsets and epochs as strings. */
export interface StatusReport {
  job: string;
  keyPrefix: string;
  leader: { owner: string; ttlMs: number } | null;
  epoch: string | null;
  lastBatch: BatchSummary | null;
  lastCommittedBatchId: number;
  inFlight: { id: number; epoch: string } | null;
  totals: { batches: number; records: number; bytes: number };
  driver?: { url: string; state?: string; epoch?: string; uptimeMs?: number; error?: string };
  partitions: PartitionOffsets[];
  totalLag: string;
}

async function driverState(url: string): Promise<NonNullable<StatusReport['driver']>> {
  try {
    const res = await fetch(new URL('/api/v1/status', url), { signal: AbortSignal.timeout(3000) });
    const st = (await res.json()) as { state: string; uptimeMs: number; epoch: string };
    return { url, state: st.state, epoch: st.epoch, uptimeMs: st.uptimeMs };
  } catch (e) {
    return { url, error: (e as Error).message };
  }
}

async function statusReport(s: Session, flags: OperatorFlags): Promise<StatusReport> {
  const [holder, epoch, committedId, plan, history, totals] = await Promise.all([
    readLeaseHolder(s.store.client, flags.name),
    s.store.currentEpoch(),
    s.store.lastCommittedBatchId(),
    s.store.readPlan(),
    s.store.history(1),
    s.store.totals(),
  ]);
  const rows = await offsetRows(s, await jobPartitions(s, topicList(flags.topics)));
  return {
    job: flags.name,
    keyPrefix: s.store.keys.offsets.replace(/offsets$/, ''),
    leader: holder ? { owner: holder.owner, ttlMs: holder.ttlMs } : null,
    epoch,
    lastBatch: history[0] ?? null,
    lastCommittedBatchId: committedId,
    inFlight: plan ? { id: plan.id, epoch: String(plan.epoch) } : null,
    totals,
    ...(flags.driverUrl ? { driver: await driverState(flags.driverUrl) } : {}),
    partitions: rows.map(partitionOffsets),
    totalLag: String(rows.reduce((n, r) => n + lagOf(r), 0n)),
  };
}

export function formatStatus(r: StatusReport, now: number): string {
  const last = r.lastBatch;
  const lines = [
    `job          ${r.job}   (Redis keys ${r.keyPrefix}*)`,
    `leader       ${r.leader ? `${r.leader.owner} (lease renewed, expires in ${(r.leader.ttlMs / 1000).toFixed(1)} s)` : 'none: no live driver'}`,
    `epoch        ${r.epoch ?? 'none'}`,
    `last batch   ${
      last
        ? `${last.id} at ${new Date(last.time).toISOString()} (${ago(now - last.time)}): ${last.records} records, processing ${last.processingMs} ms, total delay ${last.totalDelayMs} ms`
        : r.lastCommittedBatchId > 0
          ? String(r.lastCommittedBatchId)
          : 'none'
    }`,
    `in flight    ${r.inFlight ? `batch ${r.inFlight.id} (planned by epoch ${r.inFlight.epoch})` : 'none'}`,
    `totals       ${r.totals.batches} batches, ${r.totals.records} records, ${r.totals.bytes} bytes`,
  ];
  if (r.driver) {
    const d = r.driver;
    lines.push(
      d.error === undefined
        ? `driver       ${d.state}, epoch ${d.epoch}, up ${Math.round((d.uptimeMs ?? 0) / 1000)} s (${d.url})`
        : `driver       unreachable at ${d.url}: ${d.error}`
    );
  }
  lines.push('');
  if (r.partitions.length === 0) return [...lines, 'no partitions checkpointed yet'].join('\n');
  lines.push(offsetTable(r.partitions), '', `total lag    ${r.totalLag}`);
  return lines.join('\n');
}

/** `sluice status`: one screen about a job, from Redis and Kafka (and its driver's API when given). */
export async function statusCommand(flags: OperatorFlags): Promise<void> {
  await withSession(flags, async (s) => {
    const report = await statusReport(s, flags);
    out(flags.json ? JSON.stringify(report) : formatStatus(report, Date.now()));
  });
}

/** `sluice batches`: recent committed batches, newest first. */
export async function batchesCommand(flags: OperatorFlags): Promise<void> {
  const limit = flags.limit === undefined ? 20 : positiveInteger('--limit', flags.limit);
  await withSession(flags, async (s) => {
    const batches = await s.store.history(limit);
    if (flags.json) return void batches.forEach((b) => out(JSON.stringify(b)));
    if (batches.length === 0) return void out(`no committed batches in the history of job '${flags.name}'`);
    out(batchTable(batches));
  });
}

export function batchTable(batches: BatchSummary[]): string {
  return table(
    ['BATCH', 'TIME', 'RECORDS', 'BYTES', 'TASKS', 'SCHED_MS', 'PLAN_MS', 'PROC_MS', 'TOTAL_MS', 'RETRIES'],
    batches.map((b) => [
      b.id,
      new Date(b.time).toISOString(),
      b.records,
      b.bytes,
      b.ranges.length,
      b.schedulingDelayMs,
      b.planMs,
      b.processingMs,
      b.totalDelayMs,
      b.ranges.reduce((n, r) => n + r.attempt, 0),
    ])
  );
}

export type OffsetTarget =
  { kind: 'earliest' } | { kind: 'latest' } | { kind: 'timestamp'; ms: number } | { kind: 'explicit'; offsets: Map<string, bigint> };

/** Parses `--to`: earliest, latest, a timestamp in ms, or JSON `{topic: {partition: offset}}`. */
export function parseTarget(raw: string | undefined): OffsetTarget {
  if (raw === undefined) throw new ConfigError('--to is required: earliest, latest, a timestamp in ms, or JSON {topic:{partition:offset}}');
  const text = raw.trim();
  if (text === 'earliest' || text === 'latest') return { kind: text };
  if (/^\d+$/.test(text)) return { kind: 'timestamp', ms: Number(text) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`--to: expected earliest, latest, a timestamp in ms or JSON {topic:{partition:offset}}, got '${raw}'`);
  }
  const offsets = new Map<string, bigint>();
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`--to: JSON must be an object {topic:{partition:offset}}`);
  for (const [topic, partitions] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof partitions !== 'object' || partitions === null || Array.isArray(partitions))
      throw new ConfigError(`--to: topic '${topic}' must map partitions to offsets`);
    for (const [partition, offset] of Object.entries(partitions as Record<string, unknown>)) {
      if (!/^\d+$/.test(partition)) throw new ConfigError(`--to: '${partition}' of topic '${topic}' is not a partition number`);
      if (!(
        (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) ||
        (typeof offset === 'string' && /^\d+$/.test(offset))
      ))
        throw new ConfigError(`--to: offset of ${topic}-${partition} must be a non-negative integer, got ${JSON.stringify(offset)}`);
      offsets.set(partitionKey({ topic, partition: Number(partition) }), BigInt(offset));
    }
  }
  if (offsets.size === 0) throw new ConfigError('--to: the JSON names no partition');
  return { kind: 'explicit', offsets };
}

async function offsetsForTimestamp(s: Session, topics: string[], ms: number): Promise<Map<string, bigint>> {
  const admin = new Kafka({
    clientId: s.config.kafka.clientId,
    brokers: s.config.kafka.brokers,
    logLevel: kafkajsLogLevel(s.logger),
    logCreator: kafkajsLogCreator(s.logger),
    ...kafkajsSecurity(s.config.kafka),
  }).admin();
  await admin.connect();
  try {
    const result = new Map<string, bigint>();
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, ms))
        result.set(partitionKey({ topic, partition: p.partition }), BigInt(p.offset));
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

/** The change `offsets set|reset` previews or applies: current and new offset per partition. */
export function changeTable(rows: OffsetRow[], updates: Map<string, bigint>): string {
  return table(
    ['TOPIC', 'PARTITION', 'CURRENT', 'NEW', 'EARLIEST', 'LATEST'],
    rows
      .map(partitionOffsets)
      .map((p) => [p.topic, p.partition, p.committed ?? '-', String(updates.get(partitionKey(p))), p.earliest, p.latest])
  );
}

/**
 * `sluice offsets show|set|reset`. Set and reset print the current and new offsets and change
 * nothing unless `--execute` (as `kafka-consumer-groups --reset-offsets`).
 */
export async function offsetsCommand(action: string, flags: OperatorFlags): Promise<void> {
  if (!['show', 'set', 'reset'].includes(action)) throw new ConfigError(`offsets: unknown action '${action}' (show, set or reset)`);
  const target = action === 'show' ? undefined : parseTarget(flags.to);
  if (action === 'set' && target?.kind !== 'explicit')
    throw new ConfigError("offsets set: --to must be JSON {topic:{partition:offset}} (use 'reset' for earliest, latest or a timestamp)");
  if (action === 'reset' && target?.kind === 'explicit')
    throw new ConfigError("offsets reset: --to must be earliest, latest or a timestamp in ms (use 'set' for explicit offsets)");
  await withSession(flags, async (s) => {
    const topics = topicList(flags.topics);
    if (!target) {
      const rows = await offsetRows(s, await jobPartitions(s, topics));
      return void out(rows.length ? offsetTable(rows.map(partitionOffsets)) : `no partitions checkpointed for job '${flags.name}'`);
    }
    const holder = await readLeaseHolder(s.store.client, flags.name);
    const driverNote =
      holder && `job '${flags.name}' has a live driver (${holder.owner}, lease expires in ${(holder.ttlMs / 1000).toFixed(1)} s)`;
    if (holder && flags.execute && !flags.force)
      throw new LeaseHeldError(flags.name, holder.owner, `${driverNote}: stop it first, or pass --force`);
    const tps =
      target.kind === 'explicit'
        ? sortTps([...target.offsets.keys()].map(splitKey).filter((tp) => !topics || topics.includes(tp.topic)))
        : await jobPartitions(s, topics);
    if (tps.length === 0)
      throw new ConfigError(`no partitions to change: job '${flags.name}' has no checkpoint yet; name them with --topics`);
    const before = await offsetRows(s, tps);
    const wanted =
      target.kind === 'explicit'
        ? target.offsets
        : target.kind === 'timestamp'
          ? await offsetsForTimestamp(s, [...new Set(tps.map((tp) => tp.topic))], target.ms)
          : new Map(before.map((r) => [partitionKey(r), target.kind === 'earliest' ? r.earliest : r.latest]));
    const updates = new Map<string, bigint>();
    for (const r of before) {
      const key = partitionKey(r);
      const offset = wanted.get(key);
      if (offset === undefined) throw new ConfigError(`no target offset for ${r.topic}-${r.partition}`);
      if (offset < r.earliest || offset > r.latest)
        throw new ConfigError(
          `offset ${offset} for ${r.topic}-${r.partition} is outside its available offsets [${r.earliest}, ${r.latest}]`
        );
      updates.set(key, offset);
    }
    out(changeTable(before, updates));
    out();
    if (!flags.execute) {
      if (driverNote) out(`${driverNote}: --execute will refuse unless --force (which fences it)`);
      return void out('preview only: nothing changed; run again with --execute to apply');
    }
    const plan = await s.store.readPlan();
    // One transaction: new offsets, the planned batch dropped (it would replay its old ranges), and
    // a new epoch, so that a driver still running (--force) is fenced instead of committing over them.
    const keys = s.store.keys;
    await s.store.client
      .multi()
      .hset(keys.offsets, Object.fromEntries([...updates].map(([k, v]) => [k, String(v)])))
      .del(keys.planned)
      .incr(keys.epoch)
      .exec();
    out(`applied: the checkpoint of job '${flags.name}' holds the NEW offsets`);
    out(
      plan
        ? `cleared planned batch ${plan.id}: its ranges started at the old offsets; the next driver plans from the new ones`
        : 'no planned batch to clear; the next driver plans from the new offsets'
    );
    if (holder) out(`--force: the driver ${holder.owner} is fenced (new epoch); restart it`);
  });
}
