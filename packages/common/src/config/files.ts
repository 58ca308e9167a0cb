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
