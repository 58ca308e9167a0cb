import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { loadServices, type WireRegisterRequest, type WireRegisterResponse } from '@sluice/common';
import { createPki, type TestPki } from '../helpers/certs';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, keysOf, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(60_000);

type Register = (
  request: WireRegisterRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (e: grpc.ServiceError | null, r?: WireRegisterResponse) => void
) => void;
type DriverClient = grpc.Client & { Register: Register };

/**
 * Driver–executor gRPC over TLS and mutual TLS with a shared token: jobs run end to end, and a
 * plaintext client, a client certificate from another CA, no client certificate, and a missing or
 * wrong token are each refused with the status a gRPC client sees.
 */
describe('gRPC security', () => {
  let client: Redis;
  let pki: TestPki;
  let otherPki: TestPki;
  let node: { certFile: string; keyFile: string };
  let tokenFile: string;
  const token = 's3cret-token-for-tests';

  beforeAll(() => {
    client = redis();
    pki = createPki('a');
    otherPki = createPki('b');
    node = pki.issue('sluice-node');
    tokenFile = join(pki.dir, 'token');
    writeFileSync(tokenFile, `${token}\n`);
  });
  afterAll(async () => {
    await killAll();
    await client.quit();
  });

  const tlsEnv = (mode: 'tls' | 'mtls', extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    SLUICE_GRPC_TLS: mode,
    SLUICE_GRPC_TLS_CERT_FILE: node.certFile,
    SLUICE_GRPC_TLS_KEY_FILE: node.keyFile,
    SLUICE_GRPC_TLS_CA_FILE: pki.caFile,
    ...extra,
  });

  async function runJob(env: NodeJS.ProcessEnv): Promise<void> {
    const topic = uniqueName('grpcsec');
    await createTopic(topic, 2);
    const values = Array.from({ length: 200 }, (_, i) => `s${i}`);
    await produceValues(topic, values, 2);
    const run = sluice(
      ['run', ...jobArgs('examples/audit', topic), '--executors', '2', '--until', 'latest', '--batch-interval-ms', '200'],
      env
    );
    await run.succeeds(45_000);
    assertExactlyOnce(await auditCounts(client, topic), values);
  }

  describe('jobs', () => {
    afterEach(killAll);

    it('run end to end over TLS', async () => {
      await runJob(tlsEnv('tls'));
    });

    it('run end to end over mutual TLS with a shared token', async () => {
      await runJob(tlsEnv('mtls', { SLUICE_GRPC_TOKEN_FILE: tokenFile }));
    });
  });

  describe('a driver under mutual TLS with a token', () => {
    let address: string;
    let httpUrl: string;
    let topic: string;
    const clients: grpc.Client[] = [];

    beforeAll(async () => {
      topic = uniqueName('grpcsec-refuse');
      await createTopic(topic, 1);
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      address = `127.0.0.1:${grpcPort}`;
      httpUrl = `http://127.0.0.1:${httpPort}`;
      sluice(
        ['driver', ...jobArgs('examples/audit', topic), '--grpc-port', String(grpcPort)],
        tlsEnv('mtls', { SLUICE_GRPC_TOKEN_FILE: tokenFile, SLUICE_DRIVER_HTTP_PORT: String(httpPort) })
      );
      await waitFor(() => fetch(`${httpUrl}/api/v1/status`).then((r) => r.ok), { label: 'driver HTTP server' });
    });
    afterAll(async () => {
      clients.forEach((c) => c.close());
      await killAll();
    });

    const connect = (credentials: grpc.ChannelCredentials): DriverClient => {
      const c = new (loadServices().Driver)(address, credentials, {}) as unknown as DriverClient;
      clients.push(c);
      return c;
    };
    const register = (
      c: DriverClient,
      metadata = new grpc.Metadata(),
      request: Partial<WireRegisterRequest> = {}
    ): Promise<grpc.ServiceError | null> =>
      new Promise((resolve) => {
        const call = { executor_id: 'intruder', address: '127.0.0.1:1', slots: 1, job: topic, ...request };
        c.Register(call, metadata, { deadline: Date.now() + 5000 }, (e) => resolve(e));
      });
    const read = (file: string): Buffer => readFileSync(file);
    const bearer = (value: string): grpc.Metadata => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${value}`);
      return m;
    };

    it('refuses a plaintext client', async () => {
      const e = await register(connect(grpc.credentials.createInsecure()));
      // The TLS server drops the plaintext HTTP/2 preface: no connection is ever established.
      expect(e?.code).toBe(grpc.status.UNAVAILABLE);
      expect(e?.details).toMatch(/^No connection established/);
      expect(e?.details).not.toMatch(/ECONNREFUSED/);
    });

    it('refuses a client without a certificate', async () => {
      const e = await register(connect(grpc.credentials.createSsl(read(pki.caFile))));
      expect(e?.code).toBe(grpc.status.UNAVAILABLE);
      expect(e?.details).toMatch(/certificate required/);
    });

    it('refuses a client certificate from another CA', async () => {
      const intruder = otherPki.issue('intruder');
      const e = await register(connect(grpc.credentials.createSsl(read(pki.caFile), read(intruder.keyFile), read(intruder.certFile))));
      // The server aborts the handshake (TLS 1.3: the client sees the connection reset).
      expect(e?.code).toBe(grpc.status.UNAVAILABLE);
      expect(e?.details).toMatch(/^No connection established/);
      expect(e?.details).not.toMatch(/ECONNREFUSED/);
    });

    it('refuses a missing or wrong token with UNAUTHENTICATED; with the right one the request reaches validation', async () => {
      const trusted = connect(grpc.credentials.createSsl(read(pki.caFile), read(node.keyFile), read(node.certFile)));
      const missing = await register(trusted);
      expect([missing?.code, missing?.details]).toEqual([grpc.status.UNAUTHENTICATED, 'missing bearer token (grpc.tokenFile)']);
      const wrong = await register(trusted, bearer('not-the-token'));
      expect([wrong?.code, wrong?.details]).toEqual([grpc.status.UNAUTHENTICATED, 'wrong bearer token (grpc.tokenFile)']);
      // Authenticated, but still validated: an address that is not host:port is refused.
      const malformed = await register(trusted, bearer(token), { address: 'not an address' });
      expect([malformed?.code, malformed?.details]).toEqual([
        grpc.status.INVALID_ARGUMENT,
        "Register refused: address 'not an address' must be host:port with a port in 1..65535",
      ]);
      expect(await register(trusted, bearer(token), { slots: 0 })).toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: 'Register refused: slots 0 must be in 1..1024',
      });
    });

    it('an executor whose certificate the driver does not trust logs the handshake error and never registers', async () => {
      const stranger = otherPki.issue('stranger');
      const executor = sluice(['executor', ...jobArgs('examples/audit', topic), '--driver', address, '--id', 'untrusted-cert'], {
        ...tlsEnv('mtls', {
          SLUICE_GRPC_TOKEN_FILE: tokenFile,
          SLUICE_GRPC_TLS_CERT_FILE: stranger.certFile,
          SLUICE_GRPC_TLS_KEY_FILE: stranger.keyFile,
        }),
        SLUICE_EXECUTOR_HEARTBEAT_INTERVAL_MS: '200',
        LOG_LEVEL: 'info',
      });
      // TLS 1.3: the driver refuses the certificate after the handshake, which gRPC reports as a dropped connection.
      await executor.waitForOutput(/TLS handshake with the driver failed/, 20_000);
      expect(executor.stderr).toMatch(
        /"err":"\[SLUICE_RPC\] Register at driver [^"]*: UNAVAILABLE [^"]*\(the server closed the connection right after the TLS handshake: it does not accept this certificate\)"/
      );
      expect(executor.stderr).not.toMatch(/registered with the driver/);
      const executors = (await (await fetch(`${httpUrl}/api/v1/executors`)).json()) as unknown[];
      expect(executors).toEqual([]);
    });

    it('an executor trusting another CA logs a clear error and never registers', async () => {
      const executor = sluice(['executor', ...jobArgs('examples/audit', topic), '--driver', address, '--id', 'wrong-ca'], {
        ...tlsEnv('mtls', { SLUICE_GRPC_TOKEN_FILE: tokenFile, SLUICE_GRPC_TLS_CA_FILE: otherPki.caFile }),
        SLUICE_EXECUTOR_HEARTBEAT_INTERVAL_MS: '200',
        LOG_LEVEL: 'info',
      });
      await executor.waitForOutput(/TLS handshake with the driver failed/, 20_000);
      expect(executor.stderr).toMatch(
        /"err":"\[SLUICE_RPC\] Register at driver [^"]*: UNAVAILABLE [^"]*self-signed certificate in certificate chain/
      );
      expect(executor.stderr).not.toMatch(/registered with the driver/);
      const executors = (await (await fetch(`${httpUrl}/api/v1/executors`)).json()) as unknown[];
      expect(executors).toEqual([]);
    });
  });

  /**
   * TLS material that does not parse or match is refused at start-up, before anything listens or
   * connects: one line naming the configuration key and the file.
   */
  it('driver and executor refuse to start with a garbage certificate, a key not the certificate’s, or a garbage CA', async () => {
    const ca = readFileSync(pki.caFile, 'utf8');
    const body = ca.split('\n').slice(1, -2).join('\n');
    const garbage = join(pki.dir, 'garbage.pem');
    const corruptBundle = join(pki.dir, 'corrupt-bundle.pem');
    const otherKey = pki.issue('other').keyFile;
    writeFileSync(garbage, 'not a certificate\n');
    // A bundle whose second certificate lost characters in its middle.
    writeFileSync(corruptBundle, `${ca}-----BEGIN CERTIFICATE-----\n${body.slice(0, 40)}${body.slice(90)}\n-----END CERTIFICATE-----\n`);
    const badMaterial = [
      {
        env: { SLUICE_GRPC_TLS_CERT_FILE: garbage },
        line: `grpc.tlsCertFile (${garbage}) holds no PEM certificate (no -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block)`,
      },
      {
        env: { SLUICE_GRPC_TLS_KEY_FILE: otherKey },
        line: `grpc.tlsKeyFile (${otherKey}) is not the private key of the certificate in grpc.tlsCertFile (${node.certFile})`,
      },
      {
        env: { SLUICE_GRPC_TLS_CA_FILE: corruptBundle },
        // Followed by OpenSSL's reason.
        line: `grpc.tlsCaFile (${corruptBundle}) holds a certificate that does not parse (certificate 2 of 2): `,
      },
    ];
    const topic = uniqueName('grpcsec-bad-tls');
    const cases = await Promise.all(
      (['driver', 'executor'] as const).flatMap((role) =>
        badMaterial.map(async ({ env, line }) => {
          const roleArgs = role === 'driver' ? ['--grpc-port', String(await freePort())] : ['--driver', '127.0.0.1:1'];
          const proc = sluice([role, ...jobArgs('examples/audit', topic), ...roleArgs], { ...tlsEnv('mtls', env), LOG_LEVEL: 'info' });
          // Exits by itself (with a CA it cannot read, the driver used to start and lock every executor out).
          const { code } = await proc.exit(30_000);
          // All stderr says is the one line: no HTTP server, no 'executor started', no connection attempt.
          const stderr = proc.stderr.trimEnd();
          const prefix = `sluice: [SLUICE_CONFIG_INVALID] ${line}`;
          return { role, code, stderr: stderr.startsWith(prefix) ? prefix : stderr };
        })
      )
    );
    expect(cases).toEqual(
      (['driver', 'executor'] as const).flatMap((role) =>
        badMaterial.map(({ line }) => ({ role, code: 1, stderr: `sluice: [SLUICE_CONFIG_INVALID] ${line}` }))
      )
    );
    expect(await keysOf(client, topic)).toEqual([]);
  });
});
