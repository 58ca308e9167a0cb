import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki } from '../../../../../test/helpers/certs';
import { kafkajsSecurity } from '../kafkajs/security';
import type { KafkaClientConfig } from '../types';

const base: KafkaClientConfig = {
  brokers: ['k:9093'],
  clientId: 'sluice',
  isolation: 'read_committed',
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 30000,
  fetchMaxBytes: 1,
  partitionMaxBytes: 1,
  fetchMaxWaitMs: 100,
  retries: 1,
};

describe('kafkajsSecurity: the TLS and SASL settings every kafkajs client gets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kafka-sec-'));
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('adds nothing by default', () => {
    expect(kafkajsSecurity(base)).toEqual({});
  });

  it('passes the CA, client certificate, key and rejectUnauthorized to kafkajs ssl', () => {
    const pki = createPki('kafka-sec');
    const client = pki.issue('client');
    const security = kafkajsSecurity({
      ...base,
      ssl: true,
      sslCaFile: pki.caFile,
      sslCertFile: client.certFile,
      sslKeyFile: client.keyFile,
      sslRejectUnauthorized: false,
    });
    expect(security).toEqual({
      ssl: {
        rejectUnauthorized: false,
        ca: [readFileSync(pki.caFile)],
        cert: readFileSync(client.certFile),
        key: readFileSync(client.keyFile),
      },
    });
  });

  it('refuses TLS files that do not parse, naming the key and path (see readTlsFiles)', () => {
    const garbage = file('ca.pem', 'CA');
    expect(() => kafkajsSecurity({ ...base, ssl: true, sslCaFile: garbage })).toThrow(
      `[SLUICE_CONFIG_INVALID] kafka.sslCaFile (${garbage}) holds no PEM certificate (no -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block)`
    );
  });

  it('verifies brokers by default', () => {
    expect(kafkajsSecurity({ ...base, ssl: true })).toEqual({ ssl: { rejectUnauthorized: true } });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('passes SASL %s with the password read from its file', (mechanism) => {
    const security = kafkajsSecurity({ ...base, saslMechanism: mechanism, saslUsername: 'u', saslPasswordFile: file('pw', 'p@ss\n') });
    expect(security).toEqual({ sasl: { mechanism, username: 'u', password: 'p@ss' } });
  });

  it('names the key and path of an unreadable file', () => {
    expect(() => kafkajsSecurity({ ...base, ssl: true, sslCaFile: join(dir, 'missing.pem') })).toThrow(
      `[SLUICE_CONFIG_INVALID] cannot read kafka.sslCaFile (${join(dir, 'missing.pem')}): ENOENT: no such file or directory, open '${join(dir, 'missing.pem')}'`
    );
  });
});
