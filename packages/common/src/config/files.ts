import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';

/**
 * Certificates and secrets are configured as file paths (Kubernetes mounts Secrets as files, and a
 * path in a ConfigMap or env var leaks nothing). They are read when a client or server is built,
 * at start-up, and an unreadable file fails with an error naming the key and the path.
 */
export function readConfigFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`cannot read ${key} (${path}): ${(e as Error).message}`, { key, path });
  }
}

/** A password or token file: one line; the trailing newline editors and `kubectl create secret --from-file` keep is dropped. */
export function readSecretFile(key: string, path: string): string {
  const secret = readConfigFile(key, path)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (secret === '') throw new ConfigError(`${key} (${path}) is empty`, { key, path });
  return secret;
}

/** A file named by the configuration: its key (`grpc.tlsCertFile`) and its path. */
export interface ConfigFile {
  key: string;
  path: string;
}

/** A TLS file of {@link readTlsFiles}: skipped when the configuration does not set its path. */
export type TlsFile = Omit<ConfigFile, 'path'> & { path: string | undefined };

/** PEM contents of the TLS files given, as read. */
export interface TlsFiles {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const certificateStart = '-----BEGIN CERTIFICATE-----';

/** Every PEM certificate of `file`, each parsed; at least one. */
function readCertificates(file: ConfigFile): { pem: Buffer; certificates: X509Certificate[] } {
  const pem = readConfigFile(file.key, file.path);
  const text = pem.toString('latin1');
  const blocks = text.match(pemCertificate) ?? [];
  const invalid = (problem: string): ConfigError => new ConfigError(`${file.key} (${file.path}) ${problem}`, { ...file });
  if (blocks.length === 0) throw invalid(`holds no PEM certificate (no ${certificateStart} ... -----END CERTIFICATE----- block)`);
  if (text.split(certificateStart).length - 1 !== blocks.length) throw invalid('holds a PEM certificate without its END line');
  const certificates = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw invalid(`holds a certificate that does not parse (certificate ${i + 1} of ${blocks.length}): ${(e as Error).message}`);
    }
  });
  return { pem, certificates };
}

function readPrivateKey(file: ConfigFile): { pem: Buffer; privateKey: KeyObject } {
  const pem = readConfigFile(file.key, file.path);
  try {
    return { pem, privateKey: createPrivateKey(pem) };
  } catch (e) {
    throw new ConfigError(`${file.key} (${file.path}) is not a PEM private key (unencrypted): ${(e as Error).message}`, { ...file });
  }
}

/**
 * Reads a certificate (chain), its private key and a CA bundle, each optional, and checks them
 * with node:crypto before anything uses them: every certificate of the chain and of the bundle
 * parses, the key parses, and the key is the one of the chain's first certificate. Without this,
 * OpenSSL says `PEM routines::no start line` at the first handshake, or quietly skips a CA it cannot
 * read and then refuses every peer.
 * @throws ConfigError naming the key and path of the file at fault.
 */
export function readTlsFiles(files: { cert?: TlsFile; key?: TlsFile; ca?: TlsFile }): TlsFiles {
  const given = (file: TlsFile | undefined): ConfigFile | undefined =>
    file?.path === undefined ? undefined : { key: file.key, path: file.path };
  const [certFile, keyFile, caFile] = [given(files.cert), given(files.key), given(files.ca)];
  const out: TlsFiles = {};
  let leaf: X509Certificate | undefined;
  if (certFile) {
    const { pem, certificates } = readCertificates(certFile);
    out.cert = pem;
    leaf = certificates[0];
  }
  if (keyFile) {
    const { pem, privateKey } = readPrivateKey(keyFile);
    if (certFile && leaf && !leaf.checkPrivateKey(privateKey)) {
      throw new ConfigError(
        `${keyFile.key} (${keyFile.path}) is not the private key of the certificate in ${certFile.key} (${certFile.path})`,
        { key: keyFile.key, path: keyFile.path, certificate: certFile.path }
      );
    }
    out.key = pem;
  }
  if (caFile) out.ca = readCertificates(caFile).pem;
  return out;
}
