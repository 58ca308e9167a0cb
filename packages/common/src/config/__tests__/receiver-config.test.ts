import { defineJob } from '../../job/define-job';
import { redisCounterSink } from '../../sinks/redis-sinks';
import { loadConfig } from '../load';
import { resolveJobSettings } from '../job-settings';

const receiverMode = (conf: string[] = []): string[] => ['source.mode=receiver', ...conf];

function refusal(conf: string[]): string {
  try {
    loadConfig({ env: {}, conf });
  } catch (e) {
    expect((e as { code: string }).code).toBe('SLUICE_CONFIG_INVALID');
    return (e as Error).message;
  }
  throw new Error(`expected ${conf.join(' ')} to be refused`);
}

describe('receiver mode configuration', () => {
  it('defaults to the direct approach, and takes the receiver settings', () => {
    expect(loadConfig({ env: {} }).source.mode).toBe('direct');
    const config = loadConfig({
      env: { SLUICE_SOURCE_MODE: 'receiver' },
      conf: ['receiver.writeAheadLog=true', 'receiver.walReplicas=1', 'receiver.blockIntervalMs=50', 'receiver.count=2'],
    });
    expect(config.source.mode).toBe('receiver');
    expect(config.receiver).toMatchObject({ count: 2, blockIntervalMs: 50, writeAheadLog: true, walReplicas: 1, queueBlocks: 10 });
  });

  it('refuses an unknown mode', () => {
    expect(refusal(['source.mode=kinesis'])).toMatch(/source\.mode/);
  });

  it('refuses replicas without the write-ahead log, in either mode', () => {
    expect(refusal(['receiver.walReplicas=1'])).toMatch(/receiver\.walReplicas.*needs receiver\.writeAheadLog = true/);
  });

  it.each([
    ['job.assign={"t":[0]}', /job\.assign.*cannot be used with source\.mode = receiver.*consumer group/],
    ['driver.until=latest', /driver\.until.*cannot be used with source\.mode = receiver.*bounded run/],
    ['driver.speculation=true', /driver\.speculation.*cannot be used with source\.mode = receiver/],
  ])('refuses %s in receiver mode', (setting, message) => {
    expect(refusal(receiverMode([setting]))).toMatch(message);
    // The direct approach takes it.
    expect(() => loadConfig({ env: {}, conf: [setting] })).not.toThrow();
  });

  it('refuses a job module that assigns partitions, or whose sink keeps its own offsets', () => {
    const config = loadConfig({ env: {}, conf: receiverMode() });
    const assigned = defineJob({ name: 'a', source: { assign: { t: [0] } }, process: () => [], sink: redisCounterSink({ key: 'k' }) });
    expect(() => resolveJobSettings(assigned, config)).toThrow(/\[SLUICE_CONFIG_INVALID\] job 'a': source\.assign cannot be used/);
    const pg = defineJob({
      name: 'p',
      source: { topics: ['t'] },
      process: () => [],
      // As postgresSink: the offsets live in the sink's own store.
      sink: {
        kind: 'postgres',
        guarantee: 'exactly-once',
        commit: (_: unknown[], c) => c.commit([]),
        committedOffsets: () => Promise.resolve([]),
      },
    });
    expect(() => resolveJobSettings(pg, config)).toThrow(/\[SLUICE_CONFIG_INVALID\] job 'p': the postgres sink keeps the job's offsets/);
    const timed = defineJob({
      name: 't',
      source: { topics: ['t'], startingOffsets: { timestamp: 1 } },
      process: () => [],
      sink: redisCounterSink({ key: 'k' }),
    });
    expect(() => resolveJobSettings(timed, config)).toThrow(
      /\[SLUICE_CONFIG_INVALID\] job 't': startingOffsets \{"timestamp":1\} cannot be used/
    );
    const redis = defineJob({ name: 'r', source: { topics: ['t'] }, process: () => [], sink: redisCounterSink({ key: 'k' }) });
    expect(resolveJobSettings(redis, config).name).toBe('r');
  });
});
