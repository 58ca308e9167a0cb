import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createPki } from '../helpers/certs';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, killAll, sluice } from '../helpers/processes';
import { auditCounts, keysOf } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(90_000);

/**
 * A Redis of our own (Debian's redis-server on free ports) where the default user is off and the
 * only user, `sluice`, may touch only `sluice:*` keys with the commands sluice needs, on a plain
 * port and a TLS port that requires client certificates. Jobs run through both; a wrong password
 * fails with a clear SLUICE_REDIS error.
 */
describe('Redis ACL and TLS', () => {
  let server: ChildProcess;
  let dir: string;
  let port: number;
  let tlsPort: number;
  let admin: Redis;
  let passwordFile: string;
  let wrongPasswordFile: string;
  let tls: { caFile: string; certFile: string; keyFile: string };
  const password = 'redis-secret';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-redis-acl-'));
    const pki = createPki('redis');
    const serverCert = pki.issue('redis-server');
    const clientCert = pki.issue('redis-client');
    tls = { caFile: pki.caFile, ...clientCert };
    [port, tlsPort] = [await freePort(), await freePort()];
    passwordFile = join(dir, 'password');
    wrongPasswordFile = join(dir, 'wrong');
    writeFileSync(passwordFile, `${password}\n`);
    writeFileSync(wrongPasswordFile, 'nope\n');
    writeFileSync(
      join(dir, 'redis.conf'),
      [
        'bind 127.0.0.1',
        `port ${port}`,
        `tls-port ${tlsPort}`,
        `tls-cert-file ${serverCert.certFile}`,
        `tls-key-file ${serverCert.keyFile}`,
        `tls-ca-cert-file ${pki.caFile}`,
        'tls-auth-clients yes',
        `dir ${dir}`,
        'save ""',
        'appendonly no',
        'user default off',
        // What sluice needs: data commands, Lua scripts, MULTI, INFO (BullMQ checks the version); nothing dangerous.
        `user sluice on >${password} resetkeys ~sluice:* resetchannels &sluice:* -@all +@read +@write +@scripting +@transaction +@connection +@keyspace -@dangerous +info`,
        `user admin on >admin-secret ~* &* +@all`,
      ].join('\n')
    );
    server = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore' });
    admin = new Redis({ port, host: '127.0.0.1', username: 'admin', password: 'admin-secret', lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    await waitFor(() => admin.ping().then((r) => r === 'PONG'), { label: 'own redis-server' });
  });
  afterAll(async () => {
    await killAll();
    admin.disconnect();
    server.kill('SIGTERM');
    await once(server, 'exit');
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(killAll);

  async function runAudit(redisEnv: NodeJS.ProcessEnv): Promise<{ topic: string; values: string[] }> {
    const topic = uniqueName('redisacl');
    await createTopic(topic, 2);
    const values = Array.from({ length: 200 }, (_, i) => `r${i}`);
    await produceValues(topic, values, 2);
    await sluice(
      [
        'run',
        '--job',
        'examples/audit',
        '--topics',
        topic,
        '--name',
        topic,
        '--executors',
        '1',
        '--until',
        'latest',
        '--batch-interval-ms',
        '200',
      ],
      redisEnv
    ).succeeds(45_000);
    return { topic, values };
  }

  it('a job runs as an ACL user limited to sluice:* keys (redis.username + redis.passwordFile)', async () => {
    const { topic, values } = await runAudit({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      SLUICE_REDIS_USERNAME: 'sluice',
      SLUICE_REDIS_PASSWORD_FILE: passwordFile,
    });
    assertExactlyOnce(await auditCounts(admin, topic), values);
    // The user really is confined: a key outside sluice:* is refused.
    const user = new Redis({ port, host: '127.0.0.1', username: 'sluice', password, lazyConnect: true });
    await expect(user.set('other:key', '1')).rejects.toThrow(/NOPERM/);
    user.disconnect();
  });

  it('a wrong password fails at start-up with SLUICE_REDIS_UNAVAILABLE naming the refusal, and writes nothing', async () => {
    const topic = uniqueName('redisacl-wrong');
    await createTopic(topic, 1);
    const job = sluice(['run', '--job', 'examples/audit', '--topics', topic, '--name', topic, '--executors', '1', '--until', 'latest'], {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      SLUICE_REDIS_USERNAME: 'sluice',
      SLUICE_REDIS_PASSWORD_FILE: wrongPasswordFile,
    });
    expect((await job.exit(30_000)).code).toBe(1);
    expect(job.stderr).toMatch(
      new RegExp(
        `^sluice: \\[SLUICE_REDIS_UNAVAILABLE\\] cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: WRONGPASS invalid username-password pair`,
        'm'
      )
    );
    expect(await keysOf(admin, topic)).toEqual([]);
  });

  it('a job runs over rediss:// with the CA, a client certificate, and the password in the URL', async () => {
    const { topic, values } = await runAudit({
      REDIS_URL: `rediss://sluice:${password}@127.0.0.1:${tlsPort}`,
      SLUICE_REDIS_TLS_CA_FILE: tls.caFile,
      SLUICE_REDIS_TLS_CERT_FILE: tls.certFile,
      SLUICE_REDIS_TLS_KEY_FILE: tls.keyFile,
    });
    assertExactlyOnce(await auditCounts(admin, topic), values);
  });
});
