#!/usr/bin/env node
import { Command } from 'commander';
import { isSluiceError } from '@sluice/common';
import { addDlqCommand } from './dlq';
import { addInitCommand } from './init';
import { loadCommand, type LoadFlags } from './load';
import { driverCommand, executorCommand, runCommand } from './commands';
import { batchesCommand, offsetsCommand, statusCommand, type OperatorFlags } from './operator';
import { addDriverOptions, addJobOptions, type CommonFlags } from './options';

/** Prints a failure as one clear line (with sluice's error code) and sets a non-zero exit code. */
function fail(e: unknown): void {
  const message = isSluiceError(e) || e instanceof Error ? e.message : String(e);
  process.stderr.write(`sluice: ${message}\n`);
  process.exitCode = 1;
}

const program = new Command('sluice')
  .description('Micro-batch stream processing for Apache Kafka with exactly-once output (Spark direct-stream model)')
  .showHelpAfterError();

addDriverOptions(
  addJobOptions(program.command('driver').description('run the driver of a job: plans, dispatches and commits batches'))
).action((flags: CommonFlags) => driverCommand(flags).catch(fail));

addJobOptions(program.command('executor').description('run an executor: serves tasks from the driver'))
  .option('--driver <host:port,...>', 'address of the driver gRPC service; with standby drivers, all of them (executor.driver)')
  .option('--slots <n>', 'tasks run at once (executor.slots)')
  .option('--grpc-port <port>', 'port of the Executor gRPC service, 0 = any (executor.grpcPort)')
  .option('--http-port <port>', 'port of the /metrics and /healthz server, 0 = any (executor.httpPort)')
  .option('--id <id>', 'executor id (executor.id; default host-pid-random)')
  .action((flags: CommonFlags) => executorCommand(flags).catch(fail));

addDriverOptions(addJobOptions(program.command('run').description('local mode: a driver and N executor processes on loopback')))
  .requiredOption('--executors <n>', 'number of executor processes')
  .option('--slots <n>', 'tasks per executor (executor.slots)')
  .action((flags: CommonFlags & { executors: string }) =>
    runCommand(flags).then((code) => {
      process.exitCode = code;
    }, fail)
  );

/** Options of the operator commands: the job's name and where its Kafka and Redis are (config file, env). */
function operator(command: Command): Command {
  return command
    .requiredOption('--name <job>', 'job name (scopes its Redis keys)')
    .option('--config <file>', 'JSON configuration file (kafka.*, redis.*)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default warn)');
}

operator(program.command('status').description('one-screen summary of a job: leader, epoch, last batch, history totals, offsets and lag'))
  .option('--driver-url <url>', "the driver's HTTP server, e.g. http://127.0.0.1:4040, to show its state too")
  .option('--topics <list>', 'show these topics (default: those in the checkpoint)')
  .action((flags: OperatorFlags) => statusCommand(flags).catch(fail));

operator(program.command('batches').description('recent committed batches of a job, newest first'))
  .option('--limit <n>', 'how many (default 20)')
  .action((flags: OperatorFlags) => batchesCommand(flags).catch(fail));

operator(
  program
    .command('offsets')
    .description('show, set or reset the checkpointed offsets of a job (set/reset refuse while a driver runs)')
    .argument('<action>', 'show | set | reset')
)
  .option('--topics <list>', 'limit to these topics (reset: required when the job has no checkpoint yet)')
  .option('--to <target>', 'reset: earliest | latest | <timestamp ms>; set: JSON {"topic":{"0":42}}')
  .option('--force', 'change offsets even while a driver holds the leader lease (it gets fenced)')
  .action((action: string, flags: OperatorFlags) => offsetsCommand(action, flags).catch(fail));

addDlqCommand(program, fail);
addInitCommand(program, fail);

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
  .option('--executors <n>', 'with --run: executor processes', '2')
  .option('--batch-interval-ms <ms>', "with --run: the job's batch interval")
  .option('--check <run>', 'produce nothing: check the ids <run>:0 .. <run>:<expected - 1> of an earlier run (e.g. the k6 script)')
  .option('--expected <n>', 'with --check: how many records the run produced')
  .option('--json', 'print the report as one JSON object')
  .option('--config <file>', 'JSON configuration file (kafka.*, redis.*)')
  .action((flags: LoadFlags) =>
    loadCommand(flags).then((code) => {
      process.exitCode = code;
    }, fail)
  );

program.parseAsync().catch(fail);
