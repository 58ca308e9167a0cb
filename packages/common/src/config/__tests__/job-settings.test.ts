import { defineJob } from '../../job/define-job';
import { kafkaSink } from '../../sinks/kafka-sink';
import { redisCounterSink } from '../../sinks/redis-sinks';
import { loadConfig } from '../load';
import { resolveJobSettings } from '../job-settings';

const job = defineJob({
  name: 'orders',
  source: { topics: ['orders', 'returns'], startingOffsets: 'earliest', failOnDataLoss: false },
  batch: { intervalMs: 500, maxRatePerPartition: 100, minPartitions: 4 },
  process: (records) => records.map((r) => String(r.value)),
  sink: redisCounterSink({ key: 'k' }),
});

describe('resolveJobSettings', () => {
  it("takes the job module's settings, with the defaults for the rest", () => {
    expect(resolveJobSettings(job, loadConfig())).toEqual({
      name: 'orders',
      topics: ['orders', 'returns'],
      subscription: { kind: 'topics', topics: ['orders', 'returns'] },
      failOnDataLoss: false,
      startingOffsets: 'earliest',
      batchIntervalMs: 500,
      maxRatePerPartition: 100,
      minRatePerPartition: 1,
      maxRecordsPerBatch: 0,
      rateOverrides: {},
      backpressure: false,
      initialRate: 0,
      minPartitions: 4,
    });
  });

  it("lets the configuration override the module's settings and subscription", () => {
    const config = loadConfig({
      conf: ['job.name=orders-replay', 'job.pattern=orders-.*', 'job.batchIntervalMs=2000', 'job.failOnDataLoss=true'],
    });
    expect(resolveJobSettings(job, config)).toMatchObject({
      name: 'orders-replay',
      topics: [],
      subscription: { kind: 'pattern', pattern: 'orders-.*' },
      failOnDataLoss: true,
      batchIntervalMs: 2000,
      maxRatePerPartition: 100,
    });
  });

  it('lists the topics of an assignment', () => {
    const config = loadConfig({ conf: ['job.assign={"a":[0,1],"b":[2]}'] });
    expect(resolveJobSettings(job, config)).toMatchObject({
      topics: ['a', 'b'],
      subscription: { kind: 'assign', assign: { a: [0, 1], b: [2] } },
    });
  });

  it("refuses settings the job's sink cannot run with, wherever the settings are resolved", () => {
    const copying = defineJob({
      name: 'orders-copy',
      source: { topics: ['orders'] },
      process: (records) => records.map((r) => ({ value: r.value })),
      sink: kafkaSink({ topic: 'out' }),
    });
    expect(() => resolveJobSettings(copying, loadConfig())).not.toThrow();
    expect(() => resolveJobSettings(copying, loadConfig({ conf: ['driver.speculation=true'] }))).toThrow(
      "[SLUICE_CONFIG_INVALID] driver.speculation is on, but the job's kafka sink"
    );
    expect(() => resolveJobSettings(copying, loadConfig({ conf: ['job.minPartitions=2'] }))).toThrow(
      "[SLUICE_CONFIG_INVALID] job.minPartitions is 2, but the job's kafka sink"
    );
  });
});
