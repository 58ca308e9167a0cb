import { Option, type Command } from 'commander';
import { ConfigError, createLogger, loadConfig, loadJob, type Job, type Logger, type SluiceConfig, type TextSetting } from '@sluice/common';

/**
 * Flags that set a configuration key. Their values reach `loadConfig` as text, where they are
 * converted and validated with everything else (config file, environment, `--conf`).
 */
export interface ConfigFlag {
  /** Commander's flag syntax: `--batch-interval-ms <ms>`. */
  flags: string;
  key: string;
  description: string;
}

/** Where Kafka and Redis are: every command that talks to them. */
export const connectionFlags: ConfigFlag[] = [
  {
    flags: '--brokers <host:port,...>',
    key: 'kafka.brokers',
    description: 'Kafka bootstrap brokers (kafka.brokers; env KAFKA_BROKERS; default 127.0.0.1:9092)',
  },
  {
    flags: '--redis-url <url>',
    key: 'redis.url',
    description: 'redis:// or rediss:// URL (redis.url; env REDIS_URL; default redis://127.0.0.1:6379)',
  },
];

const logLevelFlag: ConfigFlag = {
  flags: '--log-level <level>',
  key: 'log.level',
  description: 'fatal|error|warn|info|debug|trace|silent (log.level)',
};

/** Shared by `driver`, `executor` and `run`. */
export const jobFlags: ConfigFlag[] = [
  { flags: '--name <name>', key: 'job.name', description: "job name, scopes the Redis keys (job.name; default: the module's name)" },
  { flags: '--topics <list>', key: 'job.topics', description: "comma-separated topics (job.topics; default: the module's topics)" },
  {
    flags: '--pattern <regex>',
    key: 'job.pattern',
    description: 'subscribe to every topic whose whole name matches, now and later (job.pattern)',
  },
  {
    flags: '--starting-offsets <spec>',
    key: 'job.startingOffsets',
    description: "'earliest', 'latest' or JSON {topic:{partition:offset}} (job.startingOffsets)",
  },
  { flags: '--batch-interval-ms <ms>', key: 'job.batchIntervalMs', description: 'batch interval (job.batchIntervalMs)' },
  {
    flags: '--source-mode <mode>',
    key: 'source.mode',
    description:
      "'direct' (the driver plans offset ranges) or 'receiver' (receivers, blocks, write-ahead log; docs/receiver-mode.md) (source.mode)",
  },
  {
    flags: '--max-rate-per-partition <n>',
    key: 'job.maxRatePerPartition',
    description: 'records per second per partition, 0 = no cap (job.maxRatePerPartition)',
  },
  logLevelFlag,
  ...connectionFlags,
];

/** `driver` and `run`. */
export const driverFlags: ConfigFlag[] = [
  { flags: '--batches <k>', key: 'driver.batches', description: 'stop after K batches (driver.batches)' },
  {
    flags: '--until <when>',
    key: 'driver.until',
    description:
      'bounded run: \'latest\' (everything present at start), JSON {"timestamp": ms} or {topic:{partition:offset}}; exits 0 when committed (driver.until)',
  },
  { flags: '--grpc-port <port>', key: 'driver.grpcPort', description: 'port of the Driver gRPC service (driver.grpcPort)' },
  {
    flags: '--http-port <port>',
    key: 'driver.httpPort',
    description: 'port of the HTTP server: UI, JSON API, /metrics, health; 0 = any (driver.httpPort, default 4040)',
  },
  {
    flags: '--min-executors <n>',
    key: 'driver.minExecutors',
    description: 'executors to wait for before the first batch (driver.minExecutors)',
  },
];

export const standbyFlag: ConfigFlag = {
  flags: '--standby',
  key: 'driver.standby',
  description: 'high availability: wait as a standby while another driver leads, take over when it goes (driver.standby)',
};

export const slotsFlag: ConfigFlag = { flags: '--slots <n>', key: 'executor.slots', description: 'tasks run at once (executor.slots)' };

export const executorFlags: ConfigFlag[] = [
  {
    flags: '--driver <host:port,...>',
    key: 'executor.driver',
    description: 'address of the driver gRPC service; with standby drivers, all of them (executor.driver)',
  },
  slotsFlag,
  { flags: '--grpc-port <port>', key: 'executor.grpcPort', description: 'port of the Executor gRPC service, 0 = any (executor.grpcPort)' },
  {
    flags: '--http-port <port>',
    key: 'executor.httpPort',
    description: 'port of the /metrics and /healthz server, 0 = any (executor.httpPort)',
  },
  { flags: '--id <id>', key: 'executor.id', description: 'executor id (executor.id; default host-pid-random)' },
];

/** The job's name, for commands that need no job module. */
export const jobNameFlag: ConfigFlag = { flags: '--name <job>', key: 'job.name', description: 'job name (scopes its Redis keys)' };

/** The flags of an operator command (`status`, `batches`, `offsets`): no job module, only its name. */
export const operatorFlags: ConfigFlag[] = [
  { ...logLevelFlag, description: 'fatal|error|warn|info|debug|trace|silent (log.level; default warn)' },
  ...connectionFlags,
];

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** `--config <file>` and the repeatable `--conf key=value`. */
export function addConfigSourceOptions(command: Command): Command {
  return command
    .option('--config <file>', 'JSON configuration file (keys: docs/configuration.md)')
    .option(
      '--conf <key=value>',
      'set any configuration key, e.g. --conf driver.taskTimeoutMs=30000 (repeatable; overrides the file and env, dedicated flags override it)',
      collect
    );
}

export function addConfigOptions(command: Command, flags: ConfigFlag[]): Command {
  for (const flag of flags) command.addOption(new Option(flag.flags, flag.description));
  return command;
}

/** The configuration settings among parsed flags, as text for `loadConfig`. */
export function flagSettings(values: object, flags: ConfigFlag[]): TextSetting[] {
  return flags.map((flag) => {
    const option = new Option(flag.flags);
    const value = (values as Record<string, unknown>)[option.attributeName()];
    return { key: flag.key, value: value === true ? true : (value as string | undefined), source: option.long as string };
  });
}

/** The command-line arguments that give these flags their parsed values again (what `run` passes on). */
export function flagArgs(values: object, flags: ConfigFlag[]): string[] {
  return flags.flatMap((flag) => {
    const option = new Option(flag.flags);
    const value = (values as Record<string, string | true | undefined>)[option.attributeName()];
    if (value === undefined) return [];
    return value === true ? [option.long as string] : [option.long as string, value];
  });
}

export interface ConfigSourceFlags {
  config?: string;
  /** `--conf key=value`, in the order given. */
  conf?: string[];
}

/** Every command's configuration: file, environment, `--conf` and its own flags, validated once. */
export function commandConfig<Flags extends ConfigSourceFlags>(values: Flags, flags: ConfigFlag[]): SluiceConfig {
  return loadConfig({ file: values.config, env: process.env, conf: values.conf, flags: flagSettings(values, flags) });
}

/** A count given on the command line: a plain decimal integer of at least 1. */
export function positiveInteger(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new ConfigError(`${flag}: expected a positive integer, got '${raw}'`, { flag, value: raw });
  return Number(raw);
}

export interface CommonFlags extends ConfigSourceFlags {
  job: string;
  [flag: string]: unknown;
}

export type Role = 'driver' | 'executor';

export const roleFlags: Record<Role, ConfigFlag[]> = {
  driver: [...jobFlags, ...driverFlags, standbyFlag],
  executor: [...jobFlags, ...executorFlags],
};

export interface Prepared {
  config: SluiceConfig;
  job: Job;
  logger: Logger;
}

export async function prepare(flags: CommonFlags, role: Role): Promise<Prepared> {
  const config = commandConfig(flags, roleFlags[role]);
  const logger = createLogger(config.log.level, { role });
  const job = await loadJob(flags.job);
  return { config, job, logger };
}
