import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { checkRedisAccess, CheckpointStore, createLogger, isSluiceError, type RedisWrite } from '@sluice/common';
import { createPki } from '../helpers/certs';
import { uniqueName } from '../helpers/env';
import { driverUrl } from '../helpers/fault';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
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
  const sluiceCommands = '-@all +@read +@write +@scripting +@transaction +@connection +@keyspace -@dangerous +info';
  /** ACL users a test created, deleted after it. */
  const users: string[] = [];

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
        `user sluice on >${password} resetkeys ~sluice:* resetchannels &sluice:* ${sluiceCommands}`,
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
  afterEach(async () => {
    await killAll();
    for (const user of users.splice(0)) await admin.call('ACL', 'DELUSER', user);
  });

  /** A new ACL user with `rules`, and the environment of a sluice process logging in as it. */
  async function aclUser(rules: string): Promise<{ name: string; env: NodeJS.ProcessEnv }> {
    const name = uniqueName('acl');
    await admin.call('ACL', 'SETUSER', name, 'on', `>${password}`, 'resetkeys', 'resetchannels', ...rules.split(' '));
    users.push(name);
    return {
      name,
      env: {
        REDIS_URL: `redis://127.0.0.1:${port}`,
        SLUICE_REDIS_USERNAME: name,
        SLUICE_REDIS_PASSWORD_FILE: passwordFile,
        LOG_LEVEL: 'info',
      },
    };
  }

  /** Polls `/readyz` of a driver until it exits; the statuses it answered (0: not listening). */
  async function readinessUntilExit(driver: SluiceProcess): Promise<number[]> {
    const url = await driverUrl(driver);
    const statuses: number[] = [];
    while (driver.child.exitCode === null) {
      statuses.push(
        await fetch(`${url}/readyz`).then(
          (r) => r.status,
          () => 0
        )
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return statuses;
  }

  /**
   * A driver (or executor) whose user may not do what it needs exits at start-up with exit code 1
   * and `expected` as its one error line, promptly, never ready, having written nothing.
   */
  async function refusedAtStartUp(
    role: 'driver' | 'executor',
    env: NodeJS.ProcessEnv,
    expected: (job: string) => string,
    extraArgs: string[] = []
  ): Promise<void> {
    const topic = uniqueName(`noperm-${role}`);
    await createTopic(topic, 1);
    const started = Date.now();
    const proc =
      role === 'driver'
        ? sluice(['driver', ...jobArgs('examples/audit', topic), '--grpc-port', String(await freePort()), ...extraArgs], env)
        : sluice(['executor', ...jobArgs('examples/audit', topic), '--driver', '127.0.0.1:1', ...extraArgs], env);
    const readiness = role === 'driver' ? readinessUntilExit(proc) : Promise.resolve([]);
    expect((await proc.exit(30_000)).code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(proc.stderr.split('\n').filter((line) => line.startsWith('sluice: '))).toEqual([`sluice: ${expected(topic)}`]);
    expect(await readiness).not.toContain(200);
    expect(await keysOf(admin, topic)).toEqual([]);
  }

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

  describe('a user without the permissions a process needs: SLUICE_REDIS_NOPERM at start-up, naming the user and what to grant', () => {
    const withoutScripting = `~sluice:* ${sluiceCommands.replace(' +@scripting', '')}`;
    const scriptingRefused = (role: string, user: string): string =>
      `[SLUICE_REDIS_NOPERM] Redis user '${user}' may not run EVAL, which the ${role} needs for its Lua scripts (run by EVAL, then EVALSHA): ` +
      `grant it, e.g. ACL SETUSER ${user} +eval (or one of its categories: +@scripting) [Redis: NOPERM this user has no permissions to run the 'eval' command]`;
    const keysRefused = (role: string, user: string, job: string): string =>
      `[SLUICE_REDIS_NOPERM] Redis user '${user}' may not read and write sluice:{${job}}:offsets, one of the ${role}'s keys: ` +
      `its key patterns must include ~sluice:{${job}}:*, e.g. ACL SETUSER ${user} ~sluice:{${job}}:*`;

    it('a driver without +@scripting', async () => {
      const user = await aclUser(withoutScripting);
      await refusedAtStartUp('driver', user.env, () => scriptingRefused('driver', user.name));
    });

    it("a driver whose key patterns leave out the job's keys", async () => {
      const user = await aclUser(`~sluice:{another-job}:* ${sluiceCommands}`);
      await refusedAtStartUp('driver', user.env, (job) => keysRefused('driver', user.name, job));
    });

    it('an executor, likewise', async () => {
      const noScripting = await aclUser(withoutScripting);
      await refusedAtStartUp('executor', noScripting.env, () => scriptingRefused('executor', noScripting.name));
      const otherKeys = await aclUser(`~sluice:{another-job}:* ${sluiceCommands}`);
      await refusedAtStartUp('executor', otherKeys.env, (job) => keysRefused('executor', otherKeys.name, job));
    });

    it('in receiver mode the check covers the write-ahead log and the block log too', async () => {
      const noXadd = await aclUser(`~sluice:* ${sluiceCommands} -xadd`);
      await refusedAtStartUp(
        'executor',
        noXadd.env,
        () =>
          `[SLUICE_REDIS_NOPERM] Redis user '${noXadd.name}' may not run XADD, which the executor needs for the write-ahead log ` +
          `(receiver.writeAheadLog): grant it, e.g. ACL SETUSER ${noXadd.name} +xadd (or one of its categories: +@write +@stream)`,
        ['--source-mode', 'receiver']
      );
      // The user of the recommended grant (docs/security.md) passes it in both roles and modes.
      const store = await CheckpointStore.connect(
        { url: `redis://127.0.0.1:${port}`, username: 'sluice', passwordFile },
        uniqueName('acl-modes')
      );
      try {
        for (const role of ['driver', 'executor'] as const)
          for (const mode of ['direct', 'receiver'] as const)
            await expect(checkRedisAccess(store, { role, mode, logger: createLogger('silent') })).resolves.toBeUndefined();
      } finally {
        await store.close();
      }
      // Refused in receiver mode only: the block log's reads are checked there and not in the direct approach.
      const noLlen = await aclUser(`~sluice:* ${sluiceCommands} -llen`);
      const limited = await CheckpointStore.connect(
        { url: `redis://127.0.0.1:${port}`, username: noLlen.name, passwordFile },
        uniqueName('acl-modes')
      );
      try {
        await expect(
          checkRedisAccess(limited, { role: 'driver', mode: 'direct', logger: createLogger('silent') })
        ).resolves.toBeUndefined();
        await expect(checkRedisAccess(limited, { role: 'driver', mode: 'receiver', logger: createLogger('silent') })).rejects.toThrow(
          `[SLUICE_REDIS_NOPERM] Redis user '${noLlen.name}' may not run LLEN, which the driver needs for the block log`
        );
      } finally {
        await limited.close();
      }
    });

    it('a refusal at run time is coded too, naming the user, the command and the keys (here: a sink key left out)', async () => {
      const job = uniqueName('noperm-sink');
      const user = await aclUser(`~sluice:{${job}}:offsets ~sluice:{${job}}:epoch ~sluice:{${job}}:stages ${sluiceCommands}`);
      const store = await CheckpointStore.connect({ url: `redis://127.0.0.1:${port}`, username: user.name, passwordFile }, job);
      try {
        const epoch = await store.takeEpoch();
        // The connection's first script call goes by EVAL (by EVALSHA after that).
        const tp = { topic: 't', partition: 0 };
        const writes: RedisWrite[] = [{ op: 'hincrby', key: 'audit', field: 'v', by: 1 }];
        const commit = store.commitChunk({ batchId: 1, epoch, tp, from: 0n, until: 1n, writes, taskFrom: 0n, records: 1, bytes: 1 });
        const error = await commit.then(
          () => undefined,
          (e: unknown) => e
        );
        expect(isSluiceError(error)).toBe(true);
        expect((error as Error).message).toBe(
          `[SLUICE_REDIS_NOPERM] Redis user '${user.name}' may not read and write one of ` +
            `sluice:{${job}}:offsets, sluice:{${job}}:epoch, sluice:{${job}}:stages, sluice:{${job}}:batch:planned, ` +
            `sluice:{${job}}:batch:counts, sluice:{${job}}:out:audit (EVAL): ` +
            `its key patterns must include ~sluice:{${job}}:*, e.g. ACL SETUSER ${user.name} ~sluice:{${job}}:* ` +
            '[Redis: NOPERM this user has no permissions to access one of the keys used as arguments]'
        );
        expect(await store.readOffset({ topic: 't', partition: 0 })).toBeNull();
      } finally {
        await store.close();
      }
    });
  });
});
