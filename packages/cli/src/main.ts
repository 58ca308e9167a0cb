#!/usr/bin/env node
import { Command } from 'commander';
import { isSluiceError } from '@sluice/common';
import { driverCommand, executorCommand, runCommand } from './commands';
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
  .option('--driver <host:port>', 'address of the driver gRPC service (executor.driver)')
  .option('--slots <n>', 'tasks run at once (executor.slots)')
  .option('--grpc-port <port>', 'port of the Executor gRPC service, 0 = any (executor.grpcPort)')
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

program.parseAsync().catch(fail);
