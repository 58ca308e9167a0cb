import { idempotentSink, postgresSink } from '@sluice/common';
import { checkSinkSettings } from '../sink-offsets';

describe('checkSinkSettings', () => {
  const pg = postgresSink({ connectionString: 'postgres://db/x', write: () => undefined });

  it('refuses skew splitting (minPartitions) for a sink that keeps the offsets itself', () => {
    expect(() => checkSinkSettings(pg, { minPartitions: 8 })).toThrow(
      "[SLUICE_CONFIG_INVALID] job.minPartitions is 8, but the job's postgres sink keeps each partition's offset in its own store " +
        'and commits a partition in offset order, so ranges cannot be split (skew splitting): set minPartitions to 0'
    );
  });

  it('accepts it for other sinks, and no splitting for any', () => {
    expect(() => checkSinkSettings(idempotentSink({ write: () => undefined }), { minPartitions: 8 })).not.toThrow();
    expect(() => checkSinkSettings(pg, { minPartitions: 0 })).not.toThrow();
  });
});
