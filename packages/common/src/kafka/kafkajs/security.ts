import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { readConfigFile, readSecretFile } from '../../config/files';
import type { KafkaClientConfig } from '../types';

/**
 * The one place where every kafkajs client of sluice (offset oracle, range readers, group offset
 * publisher, the operator CLI's admin) gets its TLS and SASL settings. Files are read when a
 * client is created, so a rotated Secret is picked up by the next connection.
 */
export function kafkajsSecurity(config: KafkaClientConfig): { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } {
  const out: { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } = {};
  if (config.ssl === true) {
    const tls: ConnectionOptions = { rejectUnauthorized: config.sslRejectUnauthorized ?? true };
    if (config.sslCaFile !== undefined) tls.ca = [readConfigFile('kafka.sslCaFile', config.sslCaFile)];
    if (config.sslCertFile !== undefined) tls.cert = readConfigFile('kafka.sslCertFile', config.sslCertFile);
    if (config.sslKeyFile !== undefined) tls.key = readConfigFile('kafka.sslKeyFile', config.sslKeyFile);
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
