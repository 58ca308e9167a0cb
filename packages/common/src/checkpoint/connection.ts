import Redis, { type RedisOptions } from 'ioredis';
import { readSecretFile, readTlsFiles } from '../config/files';
import type { SluiceConfig } from '../config/schema';
import { codeRefusals } from './refusals';

/**
 * The one place where sluice's Redis connections (checkpoint store, dead-letter queue, its replay
 * worker, the operator commands) get their address, ACL user, password and TLS settings.
 */

/** `redis.*` of the configuration, or just a URL (credentials and TLS from the URL alone). */
export type RedisTarget = string | (Pick<SluiceConfig['redis'], 'url'> & Partial<Omit<SluiceConfig['redis'], 'url'>>);

/** The URL of a target, for messages (credentials redacted). */
export function redisTargetUrl(target: RedisTarget): string {
  return redactUrl(typeof target === 'string' ? target : target.url);
}

/** Hides `user:password@` in a Redis URL. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//[redacted]@');
}

/**
 * A client for `target`, not connected unless `extra` says otherwise. A user or password file in
 * the configuration replaces the URL's; TLS (a `rediss://` URL) gets the CA, client certificate and
 * key from their files. Files are read now: an unreadable one, or TLS material that does not parse
 * or match, fails naming its key and path. A command the ACL user may not run fails with
 * SLUICE_REDIS_NOPERM naming the user, the command and its keys.
 */
export function createRedis(target: RedisTarget, extra: RedisOptions = {}): Redis {
  const redis = typeof target === 'string' ? new Redis(target, extra) : new Redis(...urlAndOptions(target, extra));
  codeRefusals(redis);
  return redis;
}

function urlAndOptions(target: Exclude<RedisTarget, string>, extra: RedisOptions): [string, RedisOptions] {
  const url = new URL(target.url);
  const options: RedisOptions = { ...extra };
  if (target.username !== undefined) options.username = target.username;
  if (target.passwordFile !== undefined) options.password = readSecretFile('redis.passwordFile', target.passwordFile);
  // ioredis lets the URL's credentials win over the options: drop the ones configured separately.
  if (target.username !== undefined) url.username = '';
  if (target.passwordFile !== undefined) url.password = '';
  if (url.protocol === 'rediss:') {
    const { ca, cert, key } = readTlsFiles({
      ca: { key: 'redis.tlsCaFile', path: target.tlsCaFile },
      cert: { key: 'redis.tlsCertFile', path: target.tlsCertFile },
      key: { key: 'redis.tlsKeyFile', path: target.tlsKeyFile },
    });
    options.tls = { ...(ca && { ca: [ca] }), ...(cert && { cert }), ...(key && { key }) };
  }
  return [url.toString(), options];
}
