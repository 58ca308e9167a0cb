import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPki, type TestPki } from '../../../../../test/helpers/certs';
import { createRedis } from '../../checkpoint/connection';
import { ConfigError } from '../../errors';
import { grpcSecurity } from '../../grpc/security';
import { readTlsFiles } from '../files';

/**
 * TLS material is checked when it is read (start-up): every certificate parses, the key parses and
 * belongs to the certificate, every certificate of a CA bundle parses. The error names the
 * configuration key and the path. PKI made with openssl (test/helpers/certs.ts).
 */
describe('readTlsFiles', () => {
  let pki: TestPki;
  let node: { certFile: string; keyFile: string };
  let otherKeyFile: string;
  let bundleFile: string;
  let garbageFile: string;
  let corruptBundleFile: string;
  let unterminatedFile: string;
  let encryptedKeyFile: string;
  const write = (name: string, text: string): string => {
    writeFileSync(join(pki.dir, name), text);
    return join(pki.dir, name);
  };

  beforeAll(() => {
    pki = createPki('tls-files');
    node = pki.issue('node');
    otherKeyFile = pki.issue('other').keyFile;
    const ca = readFileSync(pki.caFile, 'utf8');
    bundleFile = write('bundle.pem', `# two CAs\n${ca}${readFileSync(createPki('tls-files-2').caFile, 'utf8')}`);
    garbageFile = write('garbage.pem', 'this is not a certificate\n');
    // A bundle whose second certificate lost characters in its middle (a bad copy and paste).
    const body = ca.split('\n').slice(1, -2).join('\n');
    corruptBundleFile = write(
      'corrupt.pem',
      `${ca}-----BEGIN CERTIFICATE-----\n${body.slice(0, 40)}${body.slice(90)}\n-----END CERTIFICATE-----\n`
    );
    unterminatedFile = write('unterminated.pem', `${ca}-----BEGIN CERTIFICATE-----\n${body}\n`);
    encryptedKeyFile = join(pki.dir, 'encrypted.key');
    execFileSync('openssl', ['pkcs8', '-topk8', '-in', node.keyFile, '-out', encryptedKeyFile, '-passout', 'pass:secret'], {
      stdio: 'ignore',
    });
  });

  const invalid = (message: string): ConfigError => new ConfigError(message, {});

  it('returns the files as read when they parse and match, for a CA bundle of several certificates too', () => {
    const files = readTlsFiles({
      cert: { key: 'grpc.tlsCertFile', path: node.certFile },
      key: { key: 'grpc.tlsKeyFile', path: node.keyFile },
      ca: { key: 'grpc.tlsCaFile', path: bundleFile },
    });
    expect(files).toEqual({ cert: readFileSync(node.certFile), key: readFileSync(node.keyFile), ca: readFileSync(bundleFile) });
    expect(readTlsFiles({ ca: { key: 'redis.tlsCaFile', path: undefined } })).toEqual({});
  });

  it('refuses a certificate file that holds no certificate', () => {
    expect(() => readTlsFiles({ cert: { key: 'grpc.tlsCertFile', path: garbageFile } })).toThrow(
      invalid(
        `grpc.tlsCertFile (${garbageFile}) holds no PEM certificate (no -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block)`
      )
    );
  });

  it('refuses a private key that is not the certificate’s', () => {
    expect(() =>
      readTlsFiles({ cert: { key: 'grpc.tlsCertFile', path: node.certFile }, key: { key: 'grpc.tlsKeyFile', path: otherKeyFile } })
    ).toThrow(
      invalid(`grpc.tlsKeyFile (${otherKeyFile}) is not the private key of the certificate in grpc.tlsCertFile (${node.certFile})`)
    );
  });

  it.each([
    ['garbage', () => garbageFile],
    ['a certificate', () => node.certFile],
    ['encrypted (no passphrase support)', () => encryptedKeyFile],
  ])('refuses a private key file that is %s', (_, file) => {
    expect(() => readTlsFiles({ key: { key: 'kafka.sslKeyFile', path: file() } })).toThrow(
      new RegExp(`^\\[SLUICE_CONFIG_INVALID\\] kafka\\.sslKeyFile \\(${file()}\\) is not a PEM private key \\(unencrypted\\): .+`)
    );
  });

  it('refuses a CA bundle one of whose certificates does not parse, naming which', () => {
    expect(() => readTlsFiles({ ca: { key: 'grpc.tlsCaFile', path: corruptBundleFile } })).toThrow(
      new RegExp(
        `^\\[SLUICE_CONFIG_INVALID\\] grpc\\.tlsCaFile \\(${corruptBundleFile}\\) holds a certificate that does not parse \\(certificate 2 of 2\\): .+`
      )
    );
    expect(() => readTlsFiles({ ca: { key: 'grpc.tlsCaFile', path: unterminatedFile } })).toThrow(
      invalid(`grpc.tlsCaFile (${unterminatedFile}) holds a PEM certificate without its END line`)
    );
    expect(() => readTlsFiles({ ca: { key: 'grpc.tlsCaFile', path: garbageFile } })).toThrow(/^\[SLUICE_CONFIG_INVALID\] grpc\.tlsCaFile/);
  });

  it('names the key and path of an unreadable file', () => {
    const missing = join(pki.dir, 'missing.pem');
    expect(() => readTlsFiles({ ca: { key: 'grpc.tlsCaFile', path: missing } })).toThrow(
      invalid(`cannot read grpc.tlsCaFile (${missing}): ENOENT: no such file or directory, open '${missing}'`)
    );
  });

  it('is what gRPC and Redis TLS settings go through (Kafka: kafkajs-security.test.ts)', () => {
    expect(() => grpcSecurity({ tls: 'mtls', tlsCertFile: node.certFile, tlsKeyFile: node.keyFile, tlsCaFile: garbageFile })).toThrow(
      invalid(
        `grpc.tlsCaFile (${garbageFile}) holds no PEM certificate (no -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block)`
      )
    );
    expect(() =>
      createRedis({ url: 'rediss://127.0.0.1:1', tlsCertFile: node.certFile, tlsKeyFile: otherKeyFile }, { lazyConnect: true })
    ).toThrow(
      invalid(`redis.tlsKeyFile (${otherKeyFile}) is not the private key of the certificate in redis.tlsCertFile (${node.certFile})`)
    );
  });
});
