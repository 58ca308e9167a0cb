import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { readSecretFile, readTlsFiles } from '../../config/files';
import type { KafkaClientConfig } from '../types';

/**
 * The one place where every kafkajs client of sluice (offset oracle, range readers, group offset
 * publisher, the operator CLI's admin) gets its TLS and SASL settings. Files are read (and TLS
 * material checked, see readTlsFiles) when a client is created, so a rotated Secret is picked up by
 * the next connection.
 */
export function kafkajsSecurity(config: KafkaClientConfig): { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } {
  const out: { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } = {};
  if (config.ssl === true) {
    const tls: ConnectionOptions = { rejectUnauthorized: config.sslRejectUnauthorized ?? true };
    const { ca, cert, key } = readTlsFiles({
      ca: { key: 'kafka.sslCaFile', path: config.sslCaFile },
      cert: { key: 'kafka.sslCertFile', path: config.sslCertFile },
      key: { key: 'kafka.sslKeyFile', path: config.sslKeyFile },
    });
    if (ca) tls.ca = [ca];
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    out.ssl = tls;
  }
  const mechanism = config.saslMechanism ?? 'none';
  if (mechanism !== 'none') {
    const username = config.saslUsername ?? '';
    const password = readSecretFile('kafka.saslPasswordFile', config.saslPasswordFile ?? '');
    out.sasl = { mechanism, username, password };
  }
  return out;
}

/** For messages: `SASL SCRAM-SHA-512 as 'sluice'`, or undefined without SASL. */
export function describeSasl(config: KafkaClientConfig): string | undefined {
  const mechanism = config.saslMechanism ?? 'none';
  return mechanism === 'none' ? undefined : `SASL ${mechanism.toUpperCase()} as '${config.saslUsername ?? ''}'`;
}
