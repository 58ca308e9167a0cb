#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError, isSluiceError } from '@sluice/common';
import { addDlqCommand } from './dlq';
import { addInitCommand } from './init';
import { loadCommand, type LoadFlags } from './load';
import { DEFAULT_EXECUTORS, driverCommand, executorCommand, runCommand, type RunFlags } from './commands';
import { batchesCommand, offsetsCommand, statusCommand, type OperatorFlags } from './operator';
import {
  addConfigOptions,
  addConfigSourceOptions,
  connectionFlags,
  driverFlags,
  executorFlags,
  jobFlags,
  jobNameFlag,
  operatorFlags,
  slotsFlag,
  standbyFlag,
  type CommonFlags,
} from './options';

/** Exit status of a command line commander cannot parse (unknown option, missing argument), as getopt's tools. */
const USAGE_EXIT_CODE = 2;

/** A command line that does not parse, with sluice's error code and where to read the usage. */
class UsageError extends ConfigError {
  constructor(error: CommanderError, command: Command) {
    const path: string[] = [];
    for (let c: Command | null = command; c; c = c.parent) path.unshift(c.name());
    // One line: commander puts its "(Did you mean --topics?)" on a line of its own.
    const message = error.message
      .replace(/^error: /, '')
      .replace(/\.?\s*\n/g, ' ')
      .replace(/\.$/, '');
    super(`${message} (see ${path.join(' ')} --help)`, { commander: error.code });
  }
}

/** Prints a failure as one clear line (with sluice's error code) and sets a non-zero exit code. */
function fail(e: unknown): void {
  // Help and --version end parsing through the same path, having printed what they print.
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
    return;
  }
  const message = isSluiceError(e) || e instanceof Error ? e.message : String(e);
  process.stderr.write(`sluice: ${message}\n`);
  process.exitCode = e instanceof UsageError ? USAGE_EXIT_CODE : 1;
}

const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

const program = new Command('sluice')
  .description('Micro-batch stream processing for Apache Kafka with exactly-once output (Spark direct-stream model)')
  .version(version, '-V, --version', 'print the version of sluice')
  // Commander's own messages are replaced by coded ones (UsageError).
  .configureOutput({ outputError: () => undefined });

/** `--job`, `--config`, `--conf` and the configuration flags of a command that runs a job. */
function jobCommand(command: Command, ...flags: Array<typeof jobFlags>): Command {
  command.requiredOption('--job <module>', 'job module: a path (file or package folder) or a package name');
  return addConfigOptions(addConfigSourceOptions(command), flags.flat());
}

jobCommand(program.command('driver').description('run the driver of a job: plans, dispatches and commits batches'), jobFlags, driverFlags, [
  standbyFlag,
]).action((flags: CommonFlags) => driverCommand(flags).catch(fail));

jobCommand(program.command('executor').description('run an executor: serves tasks from the driver'), jobFlags, executorFlags).action(
  (flags: CommonFlags) => executorCommand(flags).catch(fail)
);

jobCommand(program.command('run').description('local mode: a driver and N executor processes on loopback'), jobFlags, driverFlags, [
  slotsFlag,
])
  .option('--executors <n>', 'number of executor processes; one that dies is restarted', String(DEFAULT_EXECUTORS))
  .action((flags: RunFlags) =>
    runCommand(flags).then((code) => {
      process.exitCode = code;
    }, fail)
  );

/** Options of the operator commands: the job's name and where its Kafka and Redis are. */
function operator(command: Command): Command {
  command.requiredOption(jobNameFlag.flags, jobNameFlag.description);
  return addConfigOptions(addConfigSourceOptions(command), operatorFlags);
}

operator(program.command('status').description('one-screen summary of a job: leader, epoch, last batch, history totals, offsets and lag'))
  .option('--driver-url <url>', "the driver's HTTP server, e.g. http://127.0.0.1:4040, to show its state too")
  .option('--topics <list>', 'show these topics (default: those in the checkpoint)')
  .option('--json', 'print one JSON object (offsets as strings)')
  .action((flags: OperatorFlags) => statusCommand(flags).catch(fail));

operator(program.command('batches').description('recent committed batches of a job, newest first'))
  .option('--limit <n>', 'how many (default 20)')
  .option('--json', "one JSON object per batch and line, as the driver's /api/v1/batches (offsets as strings)")
  .action((flags: OperatorFlags) => batchesCommand(flags).catch(fail));

operator(
  program
    .command('offsets')
    .description('show, set or reset the checkpointed offsets of a job (set and reset preview the change unless --execute)')
    .argument('<action>', 'show | set | reset')
)
  .option('--topics <list>', 'limit to these topics (reset: required when the job has no checkpoint yet)')
  .option('--to <target>', 'reset: earliest | latest | <timestamp ms>; set: JSON {"topic":{"0":42}}')
  .option('--execute', 'set, reset: apply the change (without it, only print the current and new offsets)')
  .option('--force', 'with --execute: change offsets even while a driver holds the leader lease (it gets fenced)')
  .action((action: string, flags: OperatorFlags) => offsetsCommand(action, flags).catch(fail));

addDlqCommand(program, fail);
addInitCommand(program, fail);

addConfigOptions(
  program
    .command('load')
    .description(
      'load test: produce records with an id and production time at a target rate, wait for the load job (examples/load) to commit them, report latency, duplicates and missing'
    )
    .option('--topic <name>', 'topic to produce to (created if absent)', 'load')
    .option('--rate <n>', 'target records per second', '1000')
    .option('--duration <s>', 'seconds of production', '10')
    .option('--partitions <n>', 'partitions of the topic when it is created', '8')
    .option('--size <bytes>', 'bytes per record value', '100')
    .option('--producers <n>', 'producer connections', '1')
    .option('--job-name <name>', 'name of the load job whose Redis keys hold the outcome', 'load')
    .option('--timeout <s>', 'how long to wait for the job to commit everything produced', '60')
    .option('--run', 'start the job itself: `sluice run` of the load job, stopped at the end')
    .option('--job <module>', 'with --run: the job module (default: the bundled examples/load)')
    .option('--executors <n>', 'with --run: executor processes', String(DEFAULT_EXECUTORS))
    .option('--batch-interval-ms <ms>', "with --run: the job's batch interval")
    .option('--check <run>', 'produce nothing: check the ids <run>:0 .. <run>:<expected - 1> of an earlier run (e.g. the k6 script)')
    .option('--expected <n>', 'with --check: how many records the run produced')
    .option('--json', 'print the report as one JSON object')
    .option('--config <file>', 'JSON configuration file (kafka.*, redis.*)'),
  connectionFlags
).action((flags: LoadFlags) =>
  loadCommand(flags).then((code) => {
    process.exitCode = code;
  }, fail)
);

// Every command's parse errors become coded one-line errors naming the command whose --help to read.
for (const command of [program, ...program.commands]) {
  command.exitOverride((error) => {
    if (error.exitCode === 0 || error.code === 'commander.help' || error.code === 'commander.version') throw error;
    throw new UsageError(error, command);
  });
}

program.parseAsync().catch(fail);
