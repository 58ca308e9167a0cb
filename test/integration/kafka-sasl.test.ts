import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { repoRoot, uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { freePort, killAll, sluice } from '../helpers/processes';
import { auditCounts, keysOf, redis } from '../helpers/redis';

const run = promisify(execFile);
jest.setTimeout(120_000);

/**
 * A broker of our own whose only client listener is SASL_PLAINTEXT (deploy/local/kafka.sh
 * start-sasl): jobs read through it with PLAIN and SCRAM exactly once, and wrong credentials fail
 * at start-up naming SASL authentication and the mechanism, with nothing written to Redis.
 */
describe('Kafka SASL', () => {
  let client: Redis;
  let port: number;
  let dir: string;
  let passwordFile: string;
  let wrongPasswordFile: string;
  const kafkaSh = (command: string): Promise<{ stdout: string }> =>
    run('bash', [join(repoRoot, 'deploy', 'local', 'kafka.sh'), command], {
      env: { ...process.env, KAFKA_SASL_PORT: String(port) },
    });
  const admin = (): Kafka =>
    new Kafka({
      clientId: 'sluice-tests',
      brokers: [`127.0.0.1:${port}`],
      sasl: { mechanism: 'plain', username: 'admin', password: 'admin-secret' },
      logLevel: logLevel.NOTHING,
    });

  beforeAll(async () => {
    client = redis();
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'sluice-sasl-'));
    passwordFile = join(dir, 'password');
    wrongPasswordFile = join(dir, 'wrong');
    writeFileSync(passwordFile, 'sluice-secret\n');
    writeFileSync(wrongPasswordFile, 'not-the-password\n');
    await kafkaSh('start-sasl');
  });
  afterAll(async () => {
    await killAll();
    await client.quit();
    await kafkaSh('stop-sasl');
    rmSync(join(repoRoot, '.cache', 'kafka', `work-sasl-${port}`), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(killAll);

  async function topicWith(values: string[]): Promise<string> {
    const topic = uniqueName('sasl');
    const kafka = admin();
    const a = kafka.admin();
    await a.connect();
    await a.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
    await a.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ value, partition: i % 2 })) });
    await producer.disconnect();
    return topic;
  }

  const saslEnv = (mechanism: string, file: string): NodeJS.ProcessEnv => ({
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    SLUICE_KAFKA_SASL_MECHANISM: mechanism,
    SLUICE_KAFKA_SASL_USERNAME: 'sluice',
    SLUICE_KAFKA_SASL_PASSWORD_FILE: file,
  });
  const audit = (topic: string): string[] => ['run', '--job', 'examples/audit', '--topics', topic, '--name', topic, '--executors', '1'];

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])('a job reads through SASL %s exactly once', async (mechanism) => {
    const values = Array.from({ length: 300 }, (_, i) => `${mechanism}-${i}`);
    const topic = await topicWith(values);
    await sluice([...audit(topic), '--until', 'latest', '--batch-interval-ms', '200'], saslEnv(mechanism, passwordFile)).succeeds(45_000);
    assertExactlyOnce(await auditCounts(client, topic), values);
  });

  it('wrong credentials fail at start-up naming SASL authentication and the mechanism, and write nothing to Redis', async () => {
    const topic = await topicWith(['x']);
    const job = sluice([...audit(topic), '--until', 'latest'], saslEnv('scram-sha-256', wrongPasswordFile));
    expect((await job.exit(30_000)).code).toBe(1);
    expect(job.stderr).toMatch(
      new RegExp(
        `^sluice: \\[SLUICE_KAFKA_AUTH_FAILED\\] SASL authentication failed at Kafka brokers 127\\.0\\.0\\.1:${port} ` +
          `\\(SASL SCRAM-SHA-256 as 'sluice'\\): .*Authentication failed`,
        'm'
      )
    );
    expect(await keysOf(client, topic)).toEqual([]);
  });
});
