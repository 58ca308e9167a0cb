import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test PKI made at test time with openssl: a CA, and certificates it signs for 127.0.0.1 (IP SAN,
 * which gRPC checks when executors and the driver are reached by address) usable as server and
 * client certificates. Two calls give two unrelated CAs.
 */
export interface TestPki {
  dir: string;
  caFile: string;
  /** A certificate and key signed by the CA, for `name` and 127.0.0.1. */
  issue(name: string): { certFile: string; keyFile: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createPki(label: string): TestPki {
  const dir = mkdtempSync(join(tmpdir(), `sluice-pki-${label}-`));
  // EC keys: generated in milliseconds, where RSA takes a noticeable share of a 2-core machine.
  const ecKey = (file: string): void => openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file], dir);
  ecKey('ca.key');
  openssl(
    ['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', `/CN=sluice test CA ${label}`, '-out', 'ca.crt'],
    dir
  );
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    issue(name: string) {
      ecKey(`${name}.key`);
      openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
      writeFileSync(
        join(dir, `${name}.ext`),
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=digitalSignature,keyEncipherment',
          'extendedKeyUsage=serverAuth,clientAuth',
          `subjectAltName=DNS:${name},DNS:localhost,IP:127.0.0.1`,
        ].join('\n')
      );
      openssl(
        ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256'].concat([
          '-extfile',
          `${name}.ext`,
          '-out',
          `${name}.crt`,
        ]),
        dir
      );
      return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
    },
  };
}
