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
import { auditCounts, redis } from '../helpers/redis';
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
  afterAll(() => client.quit());

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
});
