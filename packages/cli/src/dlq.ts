import {
  CheckpointStore,
  ConfigError,
  DeadLetterQueue,
  loadJob,
  replayDeadLetters,
  resolveJobSettings,
  SluiceError,
  type DeadLetterEntry,
} from '@sluice/common';
import type { Command } from 'commander';
import { nameOnlyConfig } from './operator';
import { addConfigOptions, addConfigSourceOptions, jobNameFlag, operatorFlags, positiveInteger, type ConfigSourceFlags } from './options';

/**
 * `sluice dlq list | replay | purge`: the job's dead-letter queue (BullMQ, in the job's Redis
 * namespace). `list` and `purge` need only the job's name; `replay` also needs its module, whose
 * `decode`, `process` and sink it runs on each dead-lettered record.
 */

export interface DlqFlags extends ConfigSourceFlags {
  name?: string;
  job?: string;
  config?: string;
  logLevel?: string;
  limit?: string;
  all?: boolean;
  json?: boolean;
}

const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

const preview = (b64: string | null): string => {
  if (b64 === null) return '<null>';
  const text = Buffer.from(b64, 'base64').toString('utf8');
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
};

export function formatEntry(e: DeadLetterEntry): string {
  const l = e.letter;
  const replay =
    e.replayAttempts > 0
      ? ` replay-attempts=${e.replayAttempts}${e.replayError ? ` replay-error=${JSON.stringify(e.replayError)}` : ''}`
      : '';
  return `${l.topic}:${l.partition}:${l.offset}  ${e.state}  ${l.reason}  attempts=${l.attempts}  value=${preview(l.value)}  error=${JSON.stringify(l.error)}${replay}`;
}

async function withQueue<T>(flags: DlqFlags, fn: (dlq: DeadLetterQueue) => Promise<T>): Promise<T> {
  if (!flags.name) throw new ConfigError('--name <job> is required');
  const { config } = nameOnlyConfig(flags);
  const dlq = await DeadLetterQueue.open(config.redis, flags.name, { connectTimeoutMs: config.redis.connectTimeoutMs });
  try {
    return await fn(dlq);
  } finally {
    await dlq.close();
  }
}

export async function dlqList(flags: DlqFlags): Promise<void> {
  const limit = flags.limit === undefined ? 100 : positiveInteger('--limit', flags.limit);
  await withQueue(flags, async (dlq) => {
    const [entries, size] = await Promise.all([dlq.list(limit, flags.all === true), dlq.size()]);
    if (flags.json) {
      for (const e of entries) out(JSON.stringify(e));
      return;
    }
    out(`dead-letter queue of ${dlq.job}: ${size} not replayed`);
    for (const e of entries) out(formatEntry(e));
  });
}

export async function dlqPurge(flags: DlqFlags): Promise<void> {
  await withQueue(flags, async (dlq) => {
    const removed = await dlq.purge();
    out(`purged ${removed} dead letters of ${dlq.job}`);
  });
}

/** Exit code: 0 when every entry replayed, 1 when some exhausted their replay attempts. */
export async function dlqReplay(flags: DlqFlags): Promise<number> {
  if (!flags.job) throw new ConfigError('--job <module> is required');
  const { config, logger } = nameOnlyConfig(flags);
  const job = await loadJob(flags.job);
  const jobName = resolveJobSettings(job, config).name;
  job.sink.useKafka?.(config.kafka, logger);
  const store = await CheckpointStore.connect(config.redis, jobName, { connectTimeoutMs: config.redis.connectTimeoutMs });
  try {
    const report = await replayDeadLetters({ job, jobName, redisUrl: config.redis, store, logger });
    out(
      `replayed ${report.replayed} dead letters of ${jobName}` +
        (report.alreadyReplayed > 0 ? ` (${report.alreadyReplayed} already replayed before)` : '') +
        (report.failed > 0 ? `; ${report.failed} failed again and stay in the queue` : '')
    );
    for (const f of report.failures) process.stderr.write(`sluice: dead letter ${f.id} failed: ${f.error}\n`);
    if (report.failed > 0) {
      process.stderr.write(new SluiceError('SLUICE_PROCESS_FAILED', `${report.failed} dead letters failed to replay`).message + '\n');
      return 1;
    }
    return 0;
  } finally {
    await store.close();
    await job.sink.close?.();
  }
}

/** Registers `sluice dlq <list|replay|purge>`. */
export function addDlqCommand(program: Command, fail: (e: unknown) => void): void {
  const command = program
    .command('dlq')
    .description("a job's dead-letter queue of poison records: list, replay (through the job's code and sink) or purge")
    .argument('<action>', 'list | replay | purge')
    .option(jobNameFlag.flags, 'job name (list, purge: required; replay: default the module name)')
    .option('--job <module>', 'replay: the job module whose decode, process and sink run on each record')
    .option('--limit <n>', 'list: how many entries (default 100)')
    .option('--all', 'list: include entries already replayed')
    .option('--json', 'list: one JSON object per entry (bytes in base64)');
  addConfigOptions(addConfigSourceOptions(command), operatorFlags).action((action: string, flags: DlqFlags) => {
    const run =
      action === 'list'
        ? dlqList(flags).then(() => 0)
        : action === 'purge'
          ? dlqPurge(flags).then(() => 0)
          : action === 'replay'
            ? dlqReplay(flags)
            : Promise.reject(new ConfigError(`unknown dlq action '${action}' (list, replay or purge)`));
    return run.then((code) => {
      process.exitCode = code;
    }, fail);
  });
}
