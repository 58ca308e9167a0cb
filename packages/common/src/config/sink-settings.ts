import { ConfigError } from '../errors';
import type { Sink } from '../job/types';
import type { JobSettings } from './job-settings';
import type { SluiceConfig } from './schema';

/** The driver settings that bound how long and how many attempts of one task may run. */
export type AttemptSettings = Pick<SluiceConfig['driver'], 'speculation' | 'taskTimeoutMs' | 'maxTaskFailures'>;

/**
 * The longest the attempts of one task may take in all: `maxTaskFailures` attempts that time out,
 * plus one that does not count (its executor lost, or Kafka or Redis down meanwhile).
 */
export const longestTaskMs = (driver: AttemptSettings): number => driver.taskTimeoutMs * (driver.maxTaskFailures + 1);

/**
 * Checks the job's settings against what its sink requires (`Sink.requires`), in one place for
 * every sink; called by resolveJobSettings, so `sluice run`, the driver and the executors refuse the job.
 * - skew splitting commits a later piece of a range before the earlier ones, which a sink keeping
 *   each partition's offset in its own store cannot do (it moves the offset in order);
 * - speculation runs a second attempt beside the first, which a sink with one transactional
 *   producer per partition cannot (the second fences the first);
 * - a transaction the sink's store aborts before the task's attempts may be over (`transactionTimeoutMs`).
 * @throws ConfigError naming the sink and the setting.
 */
export function checkSinkSettings(sink: Sink<unknown>, settings: Pick<JobSettings, 'minPartitions'>, driver: AttemptSettings): void {
  const requires = sink.requires ?? {};
  if (requires.orderedCommits && settings.minPartitions > 0) {
    throw new ConfigError(
      `job.minPartitions is ${settings.minPartitions}, but the job's ${sink.kind} sink keeps each partition's offset in its own ` +
        'store and commits a partition in offset order, so ranges cannot be split (skew splitting): set minPartitions to 0',
      { key: 'job.minPartitions' }
    );
  }
  if (requires.singleAttempt && driver.speculation) {
    throw new ConfigError(
      `driver.speculation is on, but the job's ${sink.kind} sink runs one transactional producer per partition, ` +
        'so a speculative copy of a task would fence the attempt it copies: set driver.speculation to false',
      { key: 'driver.speculation' }
    );
  }
  const timeout = requires.transactionTimeoutMs;
  if (timeout !== undefined && timeout <= longestTaskMs(driver)) {
    throw new ConfigError(
      `the job's ${sink.kind} sink has transactionTimeoutMs ${timeout}, which must exceed the longest a task's attempts may take: ` +
        `driver.taskTimeoutMs ${driver.taskTimeoutMs} × (driver.maxTaskFailures ${driver.maxTaskFailures} + 1) = ${longestTaskMs(driver)} ms; ` +
        "raise transactionTimeoutMs (up to the brokers' transaction.max.timeout.ms) or lower the task timeout",
      { key: 'driver.taskTimeoutMs' }
    );
  }
}
