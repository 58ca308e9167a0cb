import { idempotentSink } from '../../sinks/redis-sinks';
import { kafkaSink } from '../../sinks/kafka-sink';
import { postgresSink } from '../../sinks/postgres-sink';
import { checkSinkSettings, longestTaskMs } from '../sink-settings';

describe('checkSinkSettings', () => {
  const pg = postgresSink({ connectionString: 'postgres://db/x', write: () => undefined });
  const kafka = kafkaSink({ topic: 'out' });
  const driver = { speculation: false, taskTimeoutMs: 60_000, maxTaskFailures: 4 };

  it('refuses skew splitting (minPartitions) for a sink that keeps the offsets itself', () => {
    expect(() => checkSinkSettings(pg, { minPartitions: 8 }, driver)).toThrow(
      "[SLUICE_CONFIG_INVALID] job.minPartitions is 8, but the job's postgres sink keeps each partition's offset in its own store " +
        'and commits a partition in offset order, so ranges cannot be split (skew splitting): set minPartitions to 0'
    );
    expect(() => checkSinkSettings(kafka, { minPartitions: 2 }, driver)).toThrow(
      "[SLUICE_CONFIG_INVALID] job.minPartitions is 2, but the job's kafka sink keeps each partition's offset in its own store"
    );
  });

  it('refuses speculation for kafkaSink, naming the sink and the setting', () => {
    expect(() => checkSinkSettings(kafka, { minPartitions: 0 }, { ...driver, speculation: true })).toThrow(
      "[SLUICE_CONFIG_INVALID] driver.speculation is on, but the job's kafka sink runs one transactional producer per partition, " +
        'so a speculative copy of a task would fence the attempt it copies: set driver.speculation to false'
    );
    // postgresSink fences by epoch and compare-and-set: a speculative copy is safe there.
    expect(() => checkSinkSettings(pg, { minPartitions: 0 }, { ...driver, speculation: true })).not.toThrow();
  });

  it('refuses a transaction timeout that does not outlast every attempt of a task', () => {
    expect(longestTaskMs(driver)).toBe(300_000);
    expect(() => checkSinkSettings(kafkaSink({ transactionTimeoutMs: 300_000 }), { minPartitions: 0 }, driver)).toThrow(
      "[SLUICE_CONFIG_INVALID] the job's kafka sink has transactionTimeoutMs 300000, which must exceed the longest a task's attempts may take: " +
        'driver.taskTimeoutMs 60000 × (driver.maxTaskFailures 4 + 1) = 300000 ms; ' +
        "raise transactionTimeoutMs (up to the brokers' transaction.max.timeout.ms) or lower the task timeout"
    );
    expect(() => checkSinkSettings(kafkaSink({ transactionTimeoutMs: 300_001 }), { minPartitions: 0 }, driver)).not.toThrow();
    // The default (600000 ms) fits the default driver settings, and a short task timeout fits a short transaction.
    expect(() => checkSinkSettings(kafka, { minPartitions: 0 }, driver)).not.toThrow();
    const short = { ...driver, taskTimeoutMs: 5000, maxTaskFailures: 2 };
    expect(() => checkSinkSettings(kafkaSink({ transactionTimeoutMs: 20_000 }), { minPartitions: 0 }, short)).not.toThrow();
  });

  it('accepts anything for sinks that require nothing', () => {
    const idem = idempotentSink({ write: () => undefined });
    expect(() => checkSinkSettings(idem, { minPartitions: 8 }, { speculation: true, taskTimeoutMs: 1, maxTaskFailures: 1 })).not.toThrow();
    expect(() => checkSinkSettings(pg, { minPartitions: 0 }, driver)).not.toThrow();
  });

  it('names the group kafkaSink commits to, so the driver mirrors nothing into it', () => {
    expect(kafka.requires?.consumerGroup?.('wordcount')).toBe('sluice-wordcount');
    expect(kafkaSink({ consumerGroup: 'mine' }).requires?.consumerGroup?.('wordcount')).toBe('mine');
    expect(pg.requires).toEqual({ orderedCommits: true });
  });
});
