import type { Command } from 'commander';
import { ConfigError, createLogger, loadConfig, loadJob, type Job, type Logger, type SluiceConfig } from '@sluice/common';

/** Flags shared by `driver`, `executor` and `run`, each mapped onto a configuration key. */
export function addJobOptions(command: Command): Command {
  return command
    .requiredOption('--job <module>', 'job module: a path (file or package folder) or a package name')
    .option('--config <file>', 'JSON configuration file (keys: docs/configuration.md)')
    .option('--name <name>', "job name, scopes the Redis keys (job.name; default: the module's name)")
    .option('--topics <list>', "comma-separated topics (job.topics; default: the module's topics)")
    .option('--pattern <regex>', 'subscribe to every topic whose whole name matches, now and later (job.pattern)')
    .option('--starting-offsets <spec>', "'earliest', 'latest' or JSON {topic:{partition:offset}} (job.startingOffsets)")
    .option('--batch-interval-ms <ms>', 'batch interval (job.batchIntervalMs)')
    .option('--max-rate-per-partition <n>', 'records per second per partition, 0 = no cap (job.maxRatePerPartition)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (log.level)');
}

export function addDriverOptions(command: Command): Command {
  return command
    .option('--batches <k>', 'stop after K batches (driver.batches)')
    .option(
      '--until <when>',
      'bounded run: \'latest\' (everything present at start), JSON {"timestamp": ms} or {topic:{partition:offset}}; exits 0 when committed (driver.until)'
    )
    .option('--grpc-port <port>', 'port of the Driver gRPC service (driver.grpcPort)')
    .option('--http-port <port>', 'port of the HTTP server: UI, JSON API, /metrics, health; 0 = any (driver.httpPort, default 4040)')
    .option('--min-executors <n>', 'executors to wait for before the first batch (driver.minExecutors)')
    .option('--standby', 'high availability: wait as a standby while another driver leads, take over when it goes (driver.standby)');
}

export interface CommonFlags {
  job: string;
  config?: string;
  name?: string;
  topics?: string;
  pattern?: string;
  startingOffsets?: string;
  batchIntervalMs?: string;
  maxRatePerPartition?: string;
  logLevel?: string;
  batches?: string;
  until?: string;
  grpcPort?: string;
  httpPort?: string;
  minExecutors?: string;
  standby?: boolean;
  driver?: string;
  slots?: string;
  id?: string;
}

/** Numbers from flags are checked by the schema; here they only have to parse. */
function number(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${flag}: expected a number, got '${raw}'`);
  return n;
}

/** A flag that takes a keyword or JSON (`--starting-offsets`, `--until`). */
function keywordOrJson(flag: string, raw: string | undefined, keywords: string[]): unknown {
  if (raw === undefined || keywords.includes(raw)) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new ConfigError(`--${flag}: expected ${keywords.map((k) => `'${k}'`).join(', ')} or JSON, got '${raw}'`);
  }
}

export function configFromFlags(flags: CommonFlags, role: 'driver' | 'executor'): SluiceConfig {
  const roleFlags =
    role === 'driver'
      ? {
          driver: {
            batches: number('batches', flags.batches),
            until: keywordOrJson('until', flags.until, ['latest']),
            grpcPort: number('grpc-port', flags.grpcPort),
            httpPort: number('http-port', flags.httpPort),
            minExecutors: number('min-executors', flags.minExecutors),
            standby: flags.standby,
          },
        }
      : {
          executor: {
            driver: flags.driver
              ?.split(',')
              .map((a) => a.trim())
              .filter(Boolean),
            slots: number('slots', flags.slots),
            grpcPort: number('grpc-port', flags.grpcPort),
            httpPort: number('http-port', flags.httpPort),
            id: flags.id,
          },
        };
  return loadConfig({
    file: flags.config,
    env: process.env,
    flags: {
      job: {
        name: flags.name,
        pattern: flags.pattern,
        topics: flags.topics
          ?.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        startingOffsets: keywordOrJson('starting-offsets', flags.startingOffsets, ['earliest', 'latest']),
        batchIntervalMs: number('batch-interval-ms', flags.batchIntervalMs),
        maxRatePerPartition: number('max-rate-per-partition', flags.maxRatePerPartition),
      },
      log: { level: flags.logLevel },
      ...roleFlags,
    },
  });
}

export interface Prepared {
  config: SluiceConfig;
  job: Job;
  logger: Logger;
}

export async function prepare(flags: CommonFlags, role: 'driver' | 'executor'): Promise<Prepared> {
  const config = configFromFlags(flags, role);
  const logger = createLogger(config.log.level, { role });
  const job = await loadJob(flags.job);
  return { config, job, logger };
}
