import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSluiceError } from '../../errors';
import { loadConfig, type ConfigSources, type TextSetting } from '../load';

const dir = mkdtempSync(join(tmpdir(), 'sluice-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The message JSON.parse throws for `text`. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} parsed`);
}

/** The ConfigError that `loadConfig(sources)` throws (failing if it does not throw). */
function configError(sources: ConfigSources): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    loadConfig(sources);
  } catch (e) {
    expect(isSluiceError(e)).toBe(true);
    expect((e as Error).name).toBe('ConfigError');
    expect((e as { code: string }).code).toBe('SLUICE_CONFIG_INVALID');
    return e as Error;
  }
  throw new Error('expected loadConfig to throw');
}

/** Command-line flags as the CLI passes them: text per dotted key (each named `--<key>` in messages). */
const flags = (values: Record<string, string | true | undefined>): TextSetting[] =>
  Object.entries(values).map(([key, value]) => ({ key, value, source: `--${key}` }));

const defaults = {
  kafka: {
    brokers: ['127.0.0.1:9092'],
    clientId: 'sluice',
    isolation: 'read_committed',
    connectionTimeoutMs: 3000,
    requestTimeoutMs: 30000,
    fetchMaxBytes: 16 * 1024 * 1024,
    partitionMaxBytes: 4 * 1024 * 1024,
    fetchMaxWaitMs: 100,
    retries: 5,
    ssl: false,
    sslRejectUnauthorized: true,
    saslMechanism: 'none',
  },
  redis: { url: 'redis://127.0.0.1:6379', connectTimeoutMs: 3000 },
  grpc: { tls: 'off', maxMessageBytes: 4 * 1024 * 1024 },
  backpressure: { proportional: 1, integral: 0.2, derivative: 0, minRate: 100 },
  job: {},
  driver: {
    host: '127.0.0.1',
    grpcPort: 7070,
    httpPort: 4040,
    consumerGroupCommitIntervalMs: 5000,
    leaseTtlMs: 3000,
    taskTimeoutMs: 60000,
    maxTaskFailures: 4,
    retryBackoffMs: 200,
    heartbeatTimeoutMs: 10000,
    executorWaitMs: 60000,
    minExecutors: 1,
    historySize: 1000,
    batches: 0,
    until: 'none',
    standby: false,
    speculation: false,
    speculationMultiplier: 3,
    speculationQuantile: 0.9,
    speculationMinRuntimeMs: 100,
    speculationIntervalMs: 100,
    taskGroupRecords: 10000,
  },
  executor: {
    driver: ['127.0.0.1:7070'],
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    slots: 2,
    heartbeatIntervalMs: 1000,
    maxChunkRecords: 10000,
    readAhead: true,
    shutdownTimeoutMs: 30000,
  },
  source: { mode: 'direct' },
  receiver: {
    count: 1,
    blockIntervalMs: 200,
    queueBlocks: 10,
    maxRate: 0,
    writeAheadLog: false,
    walReplicas: 0,
    walReplicaTimeoutMs: 1000,
    restartDelayMs: 2000,
  },
  log: { level: 'info' },
  deadLetter: { maxAttempts: 3, maxRecordBytes: 1024 * 1024, replayAttempts: 3, replayBackoffMs: 1000 },
};

describe('loadConfig: rate settings from the environment', () => {
  it('reads booleans and JSON records', () => {
    const config = loadConfig({ env: { SLUICE_JOB_BACKPRESSURE: 'true', SLUICE_JOB_RATE_OVERRIDES: '{"t":{"maxRatePerPartition":5}}' } });
    expect(config.job.backpressure).toBe(true);
    expect(config.job.rateOverrides).toEqual({ t: { maxRatePerPartition: 5 } });
  });

  it('names a variable that is not a boolean', () => {
    expect(() => loadConfig({ env: { SLUICE_JOB_BACKPRESSURE: 'yes' } })).toThrow(
      "[SLUICE_CONFIG_INVALID] SLUICE_JOB_BACKPRESSURE: expected true or false, got 'yes'"
    );
  });
});

describe('loadConfig', () => {
  it('gives every default with no file, no environment and no flags', () => {
    expect(loadConfig()).toEqual(defaults);
    expect(loadConfig({ env: {}, conf: [], flags: [] })).toEqual(defaults);
  });

  it('ignores environment variables that are not its own', () => {
    expect(loadConfig({ env: { PATH: '/usr/bin', HOME: '/root', KAFKA_HEAP_OPTS: '-Xmx1g', REDIS_PASSWORD: 'x' } })).toEqual(defaults);
  });

  describe('precedence: defaults < file < env < flags', () => {
    const path = (): string =>
      file({ driver: { batches: 1, historySize: 7 }, log: { level: 'debug' }, kafka: { clientId: 'from-file', brokers: ['file:1'] } });

    it('the file overrides defaults', () => {
      const config = loadConfig({ file: path() });
      expect(config.driver.batches).toBe(1);
      expect(config.driver.historySize).toBe(7);
      expect(config.driver.taskTimeoutMs).toBe(60000);
      expect(config.kafka).toEqual({ ...defaults.kafka, clientId: 'from-file', brokers: ['file:1'] });
    });

    it('the environment overrides the file, key by key', () => {
      const config = loadConfig({ file: path(), env: { SLUICE_DRIVER_BATCHES: '2', LOG_LEVEL: 'warn', KAFKA_BROKERS: 'env:2' } });
      expect(config.driver.batches).toBe(2);
      expect(config.driver.historySize).toBe(7);
      expect(config.log.level).toBe('warn');
      expect(config.kafka.brokers).toEqual(['env:2']);
      expect(config.kafka.clientId).toBe('from-file');
    });

    it('flags override the environment; flags left undefined override nothing', () => {
      const config = loadConfig({
        file: path(),
        env: { SLUICE_DRIVER_BATCHES: '2', LOG_LEVEL: 'warn' },
        flags: flags({
          'driver.batches': '3',
          'driver.until': undefined,
          'log.level': undefined,
          'job.name': 'from-flags',
          'job.topics': undefined,
        }),
      });
      expect(config.driver.batches).toBe(3);
      expect(config.driver.until).toBe('none');
      expect(config.driver.historySize).toBe(7);
      expect(config.log.level).toBe('warn');
      expect(config.job).toEqual({ name: 'from-flags' });
    });

    it('arrays are replaced, not merged', () => {
      const config = loadConfig({ file: path(), flags: flags({ 'kafka.brokers': 'flag:3,flag:4' }) });
      expect(config.kafka.brokers).toEqual(['flag:3', 'flag:4']);
    });
  });

  describe('environment mapping', () => {
    it.each<[string, Record<string, string>, (c: ReturnType<typeof loadConfig>) => unknown, unknown]>([
      [
        'KAFKA_BROKERS (comma list, spaces trimmed)',
        { KAFKA_BROKERS: 'k1:9092, k2:9093,,' },
        (c) => c.kafka.brokers,
        ['k1:9092', 'k2:9093'],
      ],
      ['REDIS_URL', { REDIS_URL: 'rediss://user:pw@r.example:6380/2' }, (c) => c.redis.url, 'rediss://user:pw@r.example:6380/2'],
      ['LOG_LEVEL', { LOG_LEVEL: 'trace' }, (c) => c.log.level, 'trace'],
      [
        'SLUICE_DRIVER_TASK_TIMEOUT_MS -> driver.taskTimeoutMs',
        { SLUICE_DRIVER_TASK_TIMEOUT_MS: '5000' },
        (c) => c.driver.taskTimeoutMs,
        5000,
      ],
      [
        'SLUICE_EXECUTOR_HEARTBEAT_INTERVAL_MS',
        { SLUICE_EXECUTOR_HEARTBEAT_INTERVAL_MS: '250' },
        (c) => c.executor.heartbeatIntervalMs,
        250,
      ],
      ['SLUICE_KAFKA_ISOLATION', { SLUICE_KAFKA_ISOLATION: 'read_uncommitted' }, (c) => c.kafka.isolation, 'read_uncommitted'],
      ['SLUICE_JOB_TOPICS', { SLUICE_JOB_TOPICS: 'a,b' }, (c) => c.job.topics, ['a', 'b']],
      [
        'SLUICE_JOB_STARTING_OFFSETS (JSON)',
        { SLUICE_JOB_STARTING_OFFSETS: '{"orders":{"0":5,"1":"12"}}' },
        (c) => c.job.startingOffsets,
        { orders: { '0': 5, '1': '12' } },
      ],
      ['SLUICE_JOB_STARTING_OFFSETS (keyword)', { SLUICE_JOB_STARTING_OFFSETS: 'earliest' }, (c) => c.job.startingOffsets, 'earliest'],
      [
        'SLUICE_JOB_STARTING_OFFSETS (timestamp)',
        { SLUICE_JOB_STARTING_OFFSETS: '{"timestamp":1700000000000}' },
        (c) => c.job.startingOffsets,
        { timestamp: 1700000000000 },
      ],
      ['SLUICE_JOB_PATTERN', { SLUICE_JOB_PATTERN: '^orders-.*' }, (c) => c.job.pattern, '^orders-.*'],
      ['SLUICE_JOB_ASSIGN', { SLUICE_JOB_ASSIGN: '{"orders":[0,2]}' }, (c) => c.job.assign, { orders: [0, 2] }],
      ['SLUICE_JOB_FAIL_ON_DATA_LOSS', { SLUICE_JOB_FAIL_ON_DATA_LOSS: 'false' }, (c) => c.job.failOnDataLoss, false],
      ['SLUICE_KAFKA_BROKERS', { SLUICE_KAFKA_BROKERS: 'k3:1' }, (c) => c.kafka.brokers, ['k3:1']],
      [
        'the grpc section',
        {
          SLUICE_GRPC_TLS: 'mtls',
          SLUICE_GRPC_TLS_CERT_FILE: '/tls/tls.crt',
          SLUICE_GRPC_TLS_KEY_FILE: '/tls/tls.key',
          SLUICE_GRPC_TLS_CA_FILE: '/tls/ca.crt',
          SLUICE_GRPC_TLS_SERVER_NAME: 'sluice',
          SLUICE_GRPC_TOKEN_FILE: '/token/token',
          SLUICE_GRPC_MAX_MESSAGE_BYTES: '65536',
        },
        (c) => c.grpc,
        {
          tls: 'mtls',
          tlsCertFile: '/tls/tls.crt',
          tlsKeyFile: '/tls/tls.key',
          tlsCaFile: '/tls/ca.crt',
          tlsServerName: 'sluice',
          tokenFile: '/token/token',
          maxMessageBytes: 65536,
        },
      ],
      [
        'Kafka SSL and SASL',
        {
          SLUICE_KAFKA_SSL: 'true',
          SLUICE_KAFKA_SSL_CA_FILE: '/k/ca.crt',
          SLUICE_KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
          SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512',
          SLUICE_KAFKA_SASL_USERNAME: 'sluice',
          SLUICE_KAFKA_SASL_PASSWORD_FILE: '/k/password',
        },
        (c) => c.kafka,
        {
          ...defaults.kafka,
          ssl: true,
          sslCaFile: '/k/ca.crt',
          sslRejectUnauthorized: false,
          saslMechanism: 'scram-sha-512',
          saslUsername: 'sluice',
          saslPasswordFile: '/k/password',
        },
      ],
      [
        'Redis ACL user and TLS files',
        {
          REDIS_URL: 'rediss://r:6380',
          SLUICE_REDIS_USERNAME: 'sluice',
          SLUICE_REDIS_PASSWORD_FILE: '/r/pw',
          SLUICE_REDIS_TLS_CA_FILE: '/r/ca.crt',
        },
        (c) => c.redis,
        { ...defaults.redis, url: 'rediss://r:6380', username: 'sluice', passwordFile: '/r/pw', tlsCaFile: '/r/ca.crt' },
      ],
    ])('%s', (_name, env, read, expected) => {
      expect(read(loadConfig({ env }))).toEqual(expected);
    });

    it.each([
      ['KAFKA_BROKERS', 'kafka.brokers'],
      ['REDIS_URL', 'redis.url'],
      ['LOG_LEVEL', 'log.level'],
    ])('refuses %s set to the empty string instead of using the default', (name, key) => {
      for (const value of ['', ' ']) {
        expect(configError({ env: { [name]: value } }).message).toBe(
          `[SLUICE_CONFIG_INVALID] ${name} is empty: give a value for ${key} or leave it unset for the default`
        );
      }
    });

    it("accepts an empty value where the key takes '' (driver.consumerGroup: none)", () => {
      expect(loadConfig({ env: { SLUICE_DRIVER_CONSUMER_GROUP: '' } }).driver.consumerGroup).toBe('');
    });

    it('ignores SLUICE_ variables outside the configuration sections (SLUICE_CACHE)', () => {
      expect(loadConfig({ env: { SLUICE_CACHE: '/tmp/sluice-cache', SLUICE_JOBS: 'x', SLUICE_LOGS_DIR: '/tmp' } })).toEqual(defaults);
    });

    it.each([
      ['SLUICE_DRIVER_BOGUS', "[SLUICE_CONFIG_INVALID] SLUICE_DRIVER_BOGUS: unknown configuration key (section 'driver' has no 'BOGUS')"],
      ['SLUICE_KAFKA_BROKER', "[SLUICE_CONFIG_INVALID] SLUICE_KAFKA_BROKER: unknown configuration key (section 'kafka' has no 'BROKER')"],
      [
        'SLUICE_EXECUTOR_TASK_TIMEOUT_MS',
        "[SLUICE_CONFIG_INVALID] SLUICE_EXECUTOR_TASK_TIMEOUT_MS: unknown configuration key (section 'executor' has no 'TASK_TIMEOUT_MS')",
      ],
    ])('an unknown %s fails naming the variable', (name, message) => {
      expect(configError({ env: { [name]: '1' } }).message).toBe(message);
    });

    it.each(['abc', '0x10', '1e3', '  12 ', '12abc', '+12', '12.', '1.5', ''])(
      "an integer must be plain decimal: '%s' fails naming the variable and the value",
      (raw) => {
        const message =
          raw.trim() === ''
            ? 'SLUICE_DRIVER_BATCHES is empty: give a value for driver.batches or leave it unset for the default'
            : `SLUICE_DRIVER_BATCHES: expected a decimal integer, got '${raw}'`;
        expect(configError({ env: { SLUICE_DRIVER_BATCHES: raw } }).message).toBe(`[SLUICE_CONFIG_INVALID] ${message}`);
      }
    );

    it('a fraction is plain decimal too', () => {
      expect(loadConfig({ env: { SLUICE_BACKPRESSURE_INTEGRAL: '0.5' } }).backpressure.integral).toBe(0.5);
      expect(configError({ env: { SLUICE_BACKPRESSURE_INTEGRAL: '5e-1' } }).message).toBe(
        "[SLUICE_CONFIG_INVALID] SLUICE_BACKPRESSURE_INTEGRAL: expected a decimal number, got '5e-1'"
      );
    });

    it('starting offsets that are not JSON fail naming the variable', () => {
      expect(configError({ env: { SLUICE_JOB_STARTING_OFFSETS: '{orders:0}' } }).message).toBe(
        `[SLUICE_CONFIG_INVALID] SLUICE_JOB_STARTING_OFFSETS is not valid JSON: ${jsonError('{orders:0}')}`
      );
    });
  });

  describe('unknown keys', () => {
    it('in the file: named with their section', () => {
      const error = configError({ file: file({ driver: { bogus: 1 } }) });
      expect(error.message).toBe('[SLUICE_CONFIG_INVALID] invalid configuration: unknown configuration key(s) driver.bogus');
      expect(error.details).toEqual({ problems: ['unknown configuration key(s) driver.bogus'] });
    });

    it('in the file: an unknown section is named', () => {
      expect(configError({ file: file({ kafak: { brokers: ['k:1'] } }) }).message).toBe(
        '[SLUICE_CONFIG_INVALID] invalid configuration: unknown configuration key(s) kafak'
      );
    });

    it('in the file: every unknown key is named', () => {
      expect(configError({ file: file({ executor: { slot: 2, threads: 4 } }) }).message).toBe(
        '[SLUICE_CONFIG_INVALID] invalid configuration: unknown configuration key(s) executor.slot, executor.threads'
      );
    });
  });

  describe('invalid values, each named', () => {
    it.each<[string, ConfigSources, string]>([
      [
        'negative batch interval',
        { flags: flags({ 'job.batchIntervalMs': '-5' }) },
        "'job.batchIntervalMs' Too small: expected number to be >0 (got -5 from --job.batchIntervalMs)",
      ],
      [
        'zero batch interval from env',
        { env: { SLUICE_JOB_BATCH_INTERVAL_MS: '0' } },
        "'job.batchIntervalMs' Too small: expected number to be >0 (got 0 from SLUICE_JOB_BATCH_INTERVAL_MS)",
      ],
      [
        'bad Redis URL',
        { env: { REDIS_URL: 'http://127.0.0.1:6379' } },
        `'redis.url' expected a redis:// or rediss:// URL (got "http://127.0.0.1:6379" from REDIS_URL)`,
      ],
      [
        'broker without a port',
        { env: { KAFKA_BROKERS: 'k1:9092,localhost' } },
        `'kafka.brokers.1' expected host:port (got "localhost" from KAFKA_BROKERS)`,
      ],
      [
        'executor.driver not host:port',
        { flags: flags({ 'executor.driver': 'driver' }) },
        `'executor.driver.0' expected host:port (got "driver" from --executor.driver)`,
      ],
      [
        'unknown log level',
        { env: { LOG_LEVEL: 'verbose' } },
        `'log.level' Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent" (got "verbose" from LOG_LEVEL)`,
      ],
      [
        'bad job name',
        { flags: flags({ 'job.name': 'has space' }) },
        `'job.name' letters, digits, dot, dash and underscore only (got "has space" from --job.name)`,
      ],
      [
        'a pattern that does not compile',
        { env: { SLUICE_JOB_PATTERN: '(' } },
        `'job.pattern' is not a valid regular expression (got "(" from SLUICE_JOB_PATTERN)`,
      ],
      [
        'two subscriptions',
        { flags: flags({ 'job.topics': 'a', 'job.assign': '{"a":[0]}' }) },
        `'job.assign' cannot be combined with job.topics: give exactly one of job.topics, job.pattern, job.assign (got {"a":[0]} from --job.assign)`,
      ],
      [
        'driver.taskTimeoutMs not above executor.heartbeatIntervalMs',
        { env: { SLUICE_DRIVER_TASK_TIMEOUT_MS: '1000' } },
        "'driver.taskTimeoutMs' must be greater than executor.heartbeatIntervalMs (got 1000 from SLUICE_DRIVER_TASK_TIMEOUT_MS)",
      ],
      [
        'driver.heartbeatTimeoutMs not above executor.heartbeatIntervalMs',
        { flags: flags({ 'executor.heartbeatIntervalMs': '10000', 'driver.taskTimeoutMs': '20000' }) },
        "'driver.heartbeatTimeoutMs' must be greater than executor.heartbeatIntervalMs",
      ],
      [
        'grpc.tls without files',
        { env: { SLUICE_GRPC_TLS: 'tls', SLUICE_GRPC_TLS_KEY_FILE: '/k' } },
        "'grpc.tlsCertFile' is required when grpc.tls is 'tls'",
      ],
      [
        'grpc.tls mtls without a CA',
        { env: { SLUICE_GRPC_TLS: 'mtls', SLUICE_GRPC_TLS_CERT_FILE: '/c', SLUICE_GRPC_TLS_KEY_FILE: '/k' } },
        "'grpc.tlsCaFile' is required when grpc.tls is 'mtls'",
      ],
      [
        'unknown grpc.tls mode',
        { env: { SLUICE_GRPC_TLS: 'on' } },
        `'grpc.tls' Invalid option: expected one of "off"|"tls"|"mtls" (got "on" from SLUICE_GRPC_TLS)`,
      ],
      [
        'SASL without a password file',
        { env: { SLUICE_KAFKA_SASL_MECHANISM: 'plain', SLUICE_KAFKA_SASL_USERNAME: 'u' } },
        "'kafka.saslPasswordFile' is required when kafka.saslMechanism is 'plain'",
      ],
      [
        'a Redis client certificate without its key',
        { env: { REDIS_URL: 'rediss://r:6380', SLUICE_REDIS_TLS_CERT_FILE: '/c' } },
        "'redis.tlsKeyFile' is required together (a client certificate and its key)",
      ],
      [
        'Redis TLS files with a redis:// URL',
        { env: { SLUICE_REDIS_TLS_CA_FILE: '/ca' } },
        `'redis.tlsCaFile' applies only to a rediss:// redis.url (TLS) (got "/ca" from SLUICE_REDIS_TLS_CA_FILE)`,
      ],
    ])('%s', (_name, sources, problem) => {
      const error = configError(sources);
      expect(error.message).toBe(`[SLUICE_CONFIG_INVALID] invalid configuration: ${problem}`);
      expect(error.details).toEqual({ problems: [problem] });
    });

    it('reports every problem at once, from every source', () => {
      const path = file({ redis: { url: 'localhost' } });
      const error = configError({
        file: path,
        env: { KAFKA_BROKERS: 'nohost' },
        flags: flags({ 'driver.taskTimeoutMs': '500' }),
      });
      expect(error.details).toEqual({
        problems: [
          `'kafka.brokers.0' expected host:port (got "nohost" from KAFKA_BROKERS)`,
          `'redis.url' expected a redis:// or rediss:// URL (got "localhost" from config file ${path})`,
          "'driver.taskTimeoutMs' must be greater than executor.heartbeatIntervalMs (got 500 from --driver.taskTimeoutMs)",
        ],
      });
    });

    it('accepts driver.taskTimeoutMs just above executor.heartbeatIntervalMs', () => {
      const config = loadConfig({ env: { SLUICE_DRIVER_TASK_TIMEOUT_MS: '1001' } });
      expect(config.driver.taskTimeoutMs).toBe(1001);
    });
  });

  describe('the file', () => {
    it('that does not exist fails naming it', () => {
      const path = join(dir, 'missing.json');
      expect(configError({ file: path }).message).toBe(
        `[SLUICE_CONFIG_INVALID] cannot read config file ${path}: ENOENT: no such file or directory, open '${path}'`
      );
    });

    it('that is a directory fails naming it', () => {
      expect(configError({ file: dir }).message).toBe(
        `[SLUICE_CONFIG_INVALID] cannot read config file ${dir}: EISDIR: illegal operation on a directory, read`
      );
    });

    it('that is not JSON fails naming it and the parse error', () => {
      const path = file('driver = { batches: 1 }');
      expect(configError({ file: path }).message).toBe(
        `[SLUICE_CONFIG_INVALID] config file ${path} is not valid JSON: ${jsonError('driver = { batches: 1 }')}`
      );
    });

    it.each([
      ['[1, 2]', 'an array'],
      ['null', 'null'],
      ['"text"', 'a string'],
      ['42', 'a number'],
    ])('that is JSON but not an object (%s) fails naming it', (content, kind) => {
      const path = file(content);
      expect(configError({ file: path }).message).toBe(`[SLUICE_CONFIG_INVALID] config file ${path} must hold a JSON object, not ${kind}`);
    });

    it('that is an empty object gives the defaults', () => {
      expect(loadConfig({ file: file({}) })).toEqual(defaults);
    });
  });

  it('returns a deeply frozen configuration', () => {
    const config = loadConfig({ env: { SLUICE_JOB_STARTING_OFFSETS: '{"t":{"0":1}}' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.driver)).toBe(true);
    expect(Object.isFrozen(config.kafka.brokers)).toBe(true);
    expect(Object.isFrozen(config.job.startingOffsets)).toBe(true);
    expect(() => {
      (config.driver as { batches: number }).batches = 5;
    }).toThrow(TypeError);
    expect(() => config.kafka.brokers.push('x:1')).toThrow(TypeError);
    expect(config.driver.batches).toBe(0);
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
  });

  it('later loads are unaffected by an earlier one', () => {
    expect(loadConfig({ flags: flags({ 'kafka.brokers': 'k:1' }) }).kafka.brokers).toEqual(['k:1']);
    expect(loadConfig().kafka.brokers).toEqual(['127.0.0.1:9092']);
  });
});

describe('loadConfig: executor.advertiseHost', () => {
  it('is unset by default, so the executor advertises executor.host', () => {
    expect(loadConfig().executor.advertiseHost).toBeUndefined();
  });

  it('comes from SLUICE_EXECUTOR_ADVERTISE_HOST, independent of the bind address', () => {
    const config = loadConfig({ env: { SLUICE_EXECUTOR_HOST: '0.0.0.0', SLUICE_EXECUTOR_ADVERTISE_HOST: '10.1.2.3' } });
    expect(config.executor.host).toBe('0.0.0.0');
    expect(config.executor.advertiseHost).toBe('10.1.2.3');
  });

  it('refuses an empty address', () => {
    expect(() => loadConfig({ flags: flags({ 'executor.advertiseHost': '' }) })).toThrow('--executor.advertiseHost is empty');
  });
});

describe('loadConfig: keys that address a prototype', () => {
  it.each([
    ['{"__proto__": {"batches": 5}}', '__proto__'],
    ['{"driver": {"__proto__": {"batches": 5}}}', 'driver.__proto__'],
    ['{"job": {"startingOffsets": {"__proto__": {"0": 1}}}}', 'job.startingOffsets.__proto__'],
    ['{"job": {"rateOverrides": {"constructor": {"maxRatePerPartition": 1}}}}', 'job.rateOverrides.constructor'],
    ['{"prototype": 1}', 'prototype'],
  ])('are refused in the file: %s', (content, key) => {
    const path = file(content);
    expect(configError({ file: path }).message).toBe(
      `[SLUICE_CONFIG_INVALID] config file ${path}: key '${key}' is not allowed (__proto__, constructor and prototype never are)`
    );
  });

  it('are refused in JSON from the environment', () => {
    expect(configError({ env: { SLUICE_JOB_STARTING_OFFSETS: '{"t": {"__proto__": {"0": 1}}}' } }).message).toBe(
      "[SLUICE_CONFIG_INVALID] SLUICE_JOB_STARTING_OFFSETS: key 't.__proto__' is not allowed (__proto__, constructor and prototype never are)"
    );
  });
});

describe('loadConfig: job.name', () => {
  it('takes up to 200 characters', () => {
    expect(loadConfig({ flags: flags({ 'job.name': 'j'.repeat(200) }) }).job.name).toHaveLength(200);
  });

  it('refuses a longer name, showing its start and length', () => {
    expect(configError({ env: { SLUICE_JOB_NAME: 'j'.repeat(5000) } }).message).toBe(
      `[SLUICE_CONFIG_INVALID] invalid configuration: 'job.name' Too big: expected string to have <=200 characters (got "${'j'.repeat(39)}… (5000 characters) from SLUICE_JOB_NAME)`
    );
  });

  it('masks credentials of a URL it shows', () => {
    expect(configError({ env: { REDIS_URL: 'http://user:secret@r:6379' } }).message).toBe(
      `[SLUICE_CONFIG_INVALID] invalid configuration: 'redis.url' expected a redis:// or rediss:// URL (got "http://***@r:6379" from REDIS_URL)`
    );
  });
});

describe('loadConfig: --conf key=value', () => {
  it('sets any key of the schema, converted to its type', () => {
    const config = loadConfig({
      conf: ['driver.taskTimeoutMs=30000', 'executor.readAhead=false', 'kafka.brokers=a:1,b:2', 'job.startingOffsets={"t":{"0":5}}'],
    });
    expect(config.driver.taskTimeoutMs).toBe(30000);
    expect(config.executor.readAhead).toBe(false);
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.job.startingOffsets).toEqual({ t: { '0': 5 } });
  });

  it('precedence: file < env < --conf < flags; a later --conf wins', () => {
    const path = file({ driver: { batches: 1, historySize: 7, leaseTtlMs: 5000 } });
    const config = loadConfig({
      file: path,
      env: { SLUICE_DRIVER_BATCHES: '2', SLUICE_DRIVER_HISTORY_SIZE: '8' },
      conf: ['driver.batches=3', 'driver.historySize=9', 'driver.historySize=10'],
      flags: flags({ 'driver.batches': '4' }),
    });
    expect(config.driver).toMatchObject({ batches: 4, historySize: 10, leaseTtlMs: 5000 });
  });

  it.each([
    ['driver.batches', "--conf 'driver.batches': expected key=value, e.g. --conf driver.taskTimeoutMs=30000"],
    ['=5', "--conf '=5': expected key=value, e.g. --conf driver.taskTimeoutMs=30000"],
    ['driver.bogus=1', '--conf driver.bogus: unknown configuration key (keys are <section>.<name>, e.g. driver.taskTimeoutMs)'],
    [
      'job.rateOverrides.t=1',
      '--conf job.rateOverrides.t: unknown configuration key (keys are <section>.<name>, e.g. driver.taskTimeoutMs)',
    ],
    ['batches=1', '--conf batches: unknown configuration key (keys are <section>.<name>, e.g. driver.taskTimeoutMs)'],
    ['job.batchIntervalMs=0x10', "--conf job.batchIntervalMs: expected a decimal integer, got '0x10'"],
    ['job.batchIntervalMs=', '--conf job.batchIntervalMs is empty: give a value for job.batchIntervalMs or leave it unset for the default'],
  ])('refuses %s', (entry, message) => {
    expect(configError({ conf: [entry] }).message).toBe(`[SLUICE_CONFIG_INVALID] ${message}`);
  });

  it('names --conf as the source of a value the schema refuses', () => {
    expect(configError({ conf: ['job.batchIntervalMs=0'] }).message).toBe(
      "[SLUICE_CONFIG_INVALID] invalid configuration: 'job.batchIntervalMs' Too small: expected number to be >0 (got 0 from --conf job.batchIntervalMs)"
    );
  });
});

describe('loadConfig: flags', () => {
  it.each(['0x10', '1e3', '  12 ', '12abc', '1.5'])("refuses a number flag that is not a plain decimal integer: '%s'", (raw) => {
    expect(configError({ flags: [{ key: 'job.batchIntervalMs', value: raw, source: '--batch-interval-ms' }] }).message).toBe(
      `[SLUICE_CONFIG_INVALID] --batch-interval-ms: expected a decimal integer, got '${raw}'`
    );
  });

  it('a switch (true) sets a boolean key and is refused elsewhere', () => {
    expect(loadConfig({ flags: [{ key: 'driver.standby', value: true, source: '--standby' }] }).driver.standby).toBe(true);
    expect(configError({ flags: [{ key: 'driver.batches', value: true, source: '--batches' }] }).message).toBe(
      '[SLUICE_CONFIG_INVALID] --batches: needs a value'
    );
  });
});

describe('loadConfig: redis.startupTimeoutMs', () => {
  it('is unset by default: a process started while Redis is unreachable waits for as long as it takes', () => {
    expect(loadConfig().redis.startupTimeoutMs).toBeUndefined();
  });

  it('comes from SLUICE_REDIS_STARTUP_TIMEOUT_MS; 0 means fail at once', () => {
    expect(loadConfig({ env: { SLUICE_REDIS_STARTUP_TIMEOUT_MS: '30000' } }).redis.startupTimeoutMs).toBe(30000);
    expect(loadConfig({ env: { SLUICE_REDIS_STARTUP_TIMEOUT_MS: '0' } }).redis.startupTimeoutMs).toBe(0);
  });

  it('refuses a negative time, naming the key', () => {
    expect(configError({ env: { SLUICE_REDIS_STARTUP_TIMEOUT_MS: '-1' } }).message).toBe(
      "[SLUICE_CONFIG_INVALID] invalid configuration: 'redis.startupTimeoutMs' Too small: expected number to be >=0 (got -1 from SLUICE_REDIS_STARTUP_TIMEOUT_MS)"
    );
  });
});
