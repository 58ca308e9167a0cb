import type { JobSettings } from '@sluice/common';

/** The resolved settings of a test job reading `topics`, with the defaults unless `overrides` says otherwise. */
export function testJobSettings(name: string, topics: string[], overrides: Partial<JobSettings> = {}): JobSettings {
  return {
    name,
    topics,
    subscription: { kind: 'topics', topics },
    failOnDataLoss: true,
    startingOffsets: 'earliest',
    batchIntervalMs: 1000,
    maxRatePerPartition: 0,
    minRatePerPartition: 1,
    maxRecordsPerBatch: 0,
    rateOverrides: {},
    backpressure: false,
    initialRate: 0,
    minPartitions: 0,
    ...overrides,
  };
}
