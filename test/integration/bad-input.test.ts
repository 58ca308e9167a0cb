import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { repoRoot, uniqueName } from '../helpers/env';
import { createTopic, withAdmin } from '../helpers/kafka';
import { killAll, sluice } from '../helpers/processes';
import { keysOf, redis } from '../helpers/redis';

/**
 * Start-up failures: each process must exit non-zero within seconds, print one line
 * `sluice: [SLUICE_...] ...` naming the problem, and leave nothing in Redis under its job's prefix.
 * The cases are independent processes, so they run concurrently (jest's maxConcurrency at a time).
 */

jest.setTimeout(20_000);

const tmp = mkdtempSync(join(tmpdir(), 'sluice-bad-input-'));
const unknownKeyConfig = join(tmp, 'unknown-key.json');
const notJsonConfig = join(tmp, 'not-json.json');
const notAJob = join(tmp, 'not-a-job.js');
const missingJob = join(tmp, 'missing-job.js');
const protoConfig = join(tmp, 'proto.json');
writeFileSync(unknownKeyConfig, JSON.stringify({ driver: { bogus: 1 } }));
writeFileSync(protoConfig, '{"__proto__": {"batches": 1}}');
writeFileSync(notJsonConfig, 'batchIntervalMs = 5');
writeFileSync(notAJob, 'module.exports = {};\n');

function jsonParseMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} parsed`);
}

/** Concurrent tests start before beforeAll hooks run, so shared resources are made on first use. */
let client: Redis | undefined;
const redisClient = (): Redis => (client ??= redis());
let existing: Promise<string> | undefined;
const existingTopic = (): Promise<string> =>
  (existing ??= (async () => {
    const topic = uniqueName('bad-input-existing');
    await createTopic(topic, 1);
    return topic;
  })());

afterAll(async () => {
  await killAll();
  await client?.quit();
  rmSync(tmp, { recursive: true, force: true });
});

type Role = 'driver' | 'executor';

interface Case {
  title: string;
  role: Role;
  /** Arguments after `--name <name>`; `topic` is a unique never-created topic unless the case needs an existing one. */
  extraArgs?: string[];
  job?: string;
  env?: NodeJS.ProcessEnv;
  existingTopic?: boolean;
  /** The one `sluice:` line expected on stderr (exact string, or a pattern for messages quoting a system error). */
  line: (names: { topic: string; name: string }) => string | RegExp;
  /** Exit code: 1, or 2 for a command line that does not parse. */
  code?: number;
}

const configCases = (role: Role): Case[] => [
  {
    title: 'an unknown SLUICE_DRIVER_BOGUS variable',
    role,
    env: { SLUICE_DRIVER_BOGUS: '1' },
    line: () => "sluice: [SLUICE_CONFIG_INVALID] SLUICE_DRIVER_BOGUS: unknown configuration key (section 'driver' has no 'BOGUS')",
  },
  {
    title: '--batch-interval-ms -5',
    role,
    extraArgs: ['--batch-interval-ms', '-5'],
    line: () =>
      "sluice: [SLUICE_CONFIG_INVALID] invalid configuration: 'job.batchIntervalMs' Too small: expected number to be >0 (got -5 from --batch-interval-ms)",
  },
  {
    title: 'a --config file with an unknown key',
    role,
    extraArgs: ['--config', unknownKeyConfig],
    line: () => 'sluice: [SLUICE_CONFIG_INVALID] invalid configuration: unknown configuration key(s) driver.bogus',
  },
  {
    title: 'a --config file that is not JSON',
    role,
    extraArgs: ['--config', notJsonConfig],
    line: () =>
      `sluice: [SLUICE_CONFIG_INVALID] config file ${notJsonConfig} is not valid JSON: ${jsonParseMessage('batchIntervalMs = 5')}`,
  },
];

/** Refusals of the shared configuration layer: the driver's suffice. */
const strictInputCases: Case[] = [
  {
    title: '--batch-interval-ms 0x10 (not read as 16)',
    role: 'driver',
    extraArgs: ['--batch-interval-ms', '0x10'],
    line: () => "sluice: [SLUICE_CONFIG_INVALID] --batch-interval-ms: expected a decimal integer, got '0x10'",
  },
  {
    title: 'an empty KAFKA_BROKERS (not the default)',
    role: 'driver',
    env: { KAFKA_BROKERS: '' },
    line: () => 'sluice: [SLUICE_CONFIG_INVALID] KAFKA_BROKERS is empty: give a value for kafka.brokers or leave it unset for the default',
  },
  {
    title: 'a --config file with a __proto__ key',
    role: 'driver',
    extraArgs: ['--config', protoConfig],
    line: () =>
      `sluice: [SLUICE_CONFIG_INVALID] config file ${protoConfig}: key '__proto__' is not allowed (__proto__, constructor and prototype never are)`,
  },
  {
    title: 'a job name of 5,000 characters',
    role: 'driver',
    extraArgs: ['--name', 'j'.repeat(5000)],
    line: () =>
      `sluice: [SLUICE_CONFIG_INVALID] invalid configuration: 'job.name' Too big: expected string to have <=200 characters (got "${'j'.repeat(39)}… (5000 characters) from --name)`,
  },
  {
    title: 'an unknown flag',
    role: 'driver',
    extraArgs: ['--bogus-flag', '1'],
    code: 2,
    line: () => `sluice: [SLUICE_CONFIG_INVALID] unknown option '--bogus-flag' (see sluice driver --help)`,
  },
];

const moduleCases = (role: Role): Case[] => [
  {
    title: 'a job module path that does not exist',
    role,
    job: missingJob,
    line: () => `sluice: [SLUICE_JOB_INVALID] job module '${missingJob}' not found (looked at ${missingJob})`,
  },
  {
    title: 'a job module that exports no job',
    role,
    job: notAJob,
    line: () => `sluice: [SLUICE_JOB_INVALID] job module '${notAJob}' does not export a job: export default defineJob({ ... })`,
  },
];

const cases: Case[] = [
  ...configCases('driver'),
  ...configCases('executor'),
  ...strictInputCases,
  ...moduleCases('driver'),
  ...moduleCases('executor'),
  {
    title: 'a job package name that does not exist',
    role: 'driver',
    job: 'examples/no-such-job',
    line: () =>
      `sluice: [SLUICE_JOB_INVALID] job module 'examples/no-such-job' not found (looked for a package from ${repoRoot} and from sluice's installation)`,
  },
  {
    title: 'a topic that does not exist',
    role: 'driver',
    line: ({ topic }) => `sluice: [SLUICE_TOPIC_NOT_FOUND] topic(s) not found in Kafka: ${topic}`,
  },
  {
    title: 'unreachable Kafka',
    role: 'driver',
    env: { KAFKA_BROKERS: '127.0.0.1:1' },
    line: () => /^sluice: \[SLUICE_KAFKA_UNAVAILABLE\] cannot connect to Kafka brokers 127\.0\.0\.1:1: .*ECONNREFUSED.*$/,
  },
  {
    title: 'unreachable Kafka',
    role: 'executor',
    env: { KAFKA_BROKERS: '127.0.0.1:1' },
    existingTopic: true,
    line: () => /^sluice: \[SLUICE_KAFKA_UNAVAILABLE\] cannot connect to Kafka brokers 127\.0\.0\.1:1: .*ECONNREFUSED.*$/,
  },
  {
    title: 'unreachable Redis, with redis.startupTimeoutMs 0 (no waiting for it)',
    role: 'driver',
    env: { REDIS_URL: 'redis://127.0.0.1:1', SLUICE_REDIS_STARTUP_TIMEOUT_MS: '0' },
    existingTopic: true,
    line: () => /^sluice: \[SLUICE_REDIS_UNAVAILABLE\] cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .+$/,
  },
  {
    title: 'unreachable Redis, with redis.startupTimeoutMs 0 (no waiting for it)',
    role: 'executor',
    env: { REDIS_URL: 'redis://127.0.0.1:1', SLUICE_REDIS_STARTUP_TIMEOUT_MS: '0' },
    existingTopic: true,
    line: () => /^sluice: \[SLUICE_REDIS_UNAVAILABLE\] cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .+$/,
  },
];

describe('bad input: exit non-zero, one clear line, nothing in Redis', () => {
  it.concurrent.each(cases)('$role: $title', async (c) => {
    const name = uniqueName('bad-input');
    const topic = c.existingTopic ? await existingTopic() : uniqueName('bad-input-never-created');
    const started = Date.now();
    const proc = sluice([c.role, '--job', c.job ?? 'examples/audit', '--topics', topic, '--name', name, ...(c.extraArgs ?? [])], c.env);
    const { code, signal } = await proc.exit(15_000);
    const elapsed = Date.now() - started;
    const context = `\nstdout:\n${proc.stdout.slice(-2000)}\nstderr:\n${proc.stderr.slice(-4000)}`;

    expect({ code, signal, context }).toEqual({ code: c.code ?? 1, signal: null, context });
    const lines = proc.stderr.split('\n').filter((l) => l.startsWith('sluice:'));
    expect({ lines, context }).toEqual({ lines: [expect.any(String)], context });
    const expected = c.line({ topic, name });
    if (typeof expected === 'string') expect(lines[0]).toBe(expected);
    else expect(lines[0]).toMatch(expected);
    expect(elapsed).toBeLessThan(10_000);

    expect(await keysOf(redisClient(), name)).toEqual([]);
  });

  it.concurrent('sluice run: a missing job module is reported once and no process is started', async () => {
    const proc = sluice(['run', '--job', missingJob, '--name', uniqueName('bad-input')]);
    expect((await proc.exit(15_000)).code).toBe(1);
    expect(proc.stderr).toBe(`sluice: [SLUICE_JOB_INVALID] job module '${missingJob}' not found (looked at ${missingJob})\n`);
  });

  it.concurrent('sluice run: a topic that does not exist is reported once, by the driver; no executor is started', async () => {
    const topic = uniqueName('bad-input-never-created');
    const proc = sluice(['run', '--job', 'examples/audit', '--topics', topic, '--name', uniqueName('bad-input')]);
    expect((await proc.exit(15_000)).code).toBe(1);
    expect(proc.stderr.split('\n').filter((l) => l.startsWith('sluice'))).toEqual([
      expect.stringMatching(/^sluice run: started driver \(pid \d+\)$/),
      `sluice: [SLUICE_TOPIC_NOT_FOUND] topic(s) not found in Kafka: ${topic}`,
    ]);
  });

  it.concurrent('a topic that does not exist is not created by the failed start', async () => {
    const topic = uniqueName('bad-input-not-created');
    const name = uniqueName('bad-input');
    const proc = sluice(['driver', '--job', 'examples/audit', '--topics', topic, '--name', name]);
    expect((await proc.exit(15_000)).code).toBe(1);
    expect(proc.stderr).toContain(`sluice: [SLUICE_TOPIC_NOT_FOUND] topic(s) not found in Kafka: ${topic}\n`);
    expect(await withAdmin((admin) => admin.listTopics())).not.toContain(topic);
    expect(await keysOf(redisClient(), name)).toEqual([]);
  });
});
