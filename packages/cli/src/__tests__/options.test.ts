import { commandConfig, driverFlags, flagArgs, flagSettings, jobFlags, positiveInteger, standbyFlag } from '../options';

describe('configuration flags', () => {
  const parsed = { batchIntervalMs: '500', brokers: 'k1:9092,k2:9092', standby: true, name: undefined };

  it('become text settings named by their flag, for loadConfig to convert and check', () => {
    expect(flagSettings(parsed, [...jobFlags, standbyFlag]).filter((s) => s.value !== undefined)).toEqual([
      { key: 'job.batchIntervalMs', value: '500', source: '--batch-interval-ms' },
      { key: 'kafka.brokers', value: 'k1:9092,k2:9092', source: '--brokers' },
      { key: 'driver.standby', value: true, source: '--standby' },
    ]);
  });

  it('are given again as arguments by `run` to its processes', () => {
    expect(flagArgs(parsed, [...jobFlags, standbyFlag])).toEqual([
      '--batch-interval-ms',
      '500',
      '--brokers',
      'k1:9092,k2:9092',
      '--standby',
    ]);
  });

  it('override --conf, which overrides the environment', () => {
    const saved = process.env.SLUICE_DRIVER_BATCHES;
    process.env.SLUICE_DRIVER_BATCHES = '1';
    try {
      const config = commandConfig({ conf: ['driver.batches=2', 'driver.historySize=9'], batches: '3' }, driverFlags);
      expect([config.driver.batches, config.driver.historySize]).toEqual([3, 9]);
      expect(commandConfig({ conf: ['driver.batches=2'] }, driverFlags).driver.batches).toBe(2);
    } finally {
      if (saved === undefined) delete process.env.SLUICE_DRIVER_BATCHES;
      else process.env.SLUICE_DRIVER_BATCHES = saved;
    }
  });

  it('name the flag and the value when refused', () => {
    expect(() => commandConfig({ conf: [], batchIntervalMs: '0x10' }, jobFlags)).toThrow(
      "[SLUICE_CONFIG_INVALID] --batch-interval-ms: expected a decimal integer, got '0x10'"
    );
    expect(() => commandConfig({ conf: [], redisUrl: '' }, jobFlags)).toThrow(
      '[SLUICE_CONFIG_INVALID] --redis-url is empty: give a value for redis.url or leave it unset for the default'
    );
  });
});

describe('positiveInteger', () => {
  it('takes a plain decimal integer of at least 1', () => {
    expect(positiveInteger('--executors', '3')).toBe(3);
  });

  it.each(['0', '-1', '0x10', '1e3', ' 2', '2abc', '1.5', ''])("refuses '%s' naming the flag", (raw) => {
    expect(() => positiveInteger('--executors', raw)).toThrow(
      `[SLUICE_CONFIG_INVALID] --executors: expected a positive integer, got '${raw}'`
    );
  });
});
