import { isSluiceError, RedisUnavailableError } from '../errors';

/**
 * ioredis errors and Redis replies that mean Redis is not serving right now (down, restarting,
 * loading its append-only file), as opposed to an error of a script or of the data.
 */
const outageMessages = [
  /^LOADING\b/,
  /^MASTERDOWN\b/,
  /^BUSY\b/,
  /Connection is closed/,
  /Stream isn't writeable/,
  /\bE(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NOTFOUND|AI_AGAIN)\b/,
  /max retries per request/i,
];

/** Returns `e` as a {@link RedisUnavailableError} when it says Redis is unreachable, else `e` unchanged. */
export function asRedisOutage(e: unknown): unknown {
  if (isSluiceError(e) || !(e instanceof Error)) return e;
  if (e.name === 'MaxRetriesPerRequestError' || outageMessages.some((pattern) => pattern.test(e.message))) {
    return new RedisUnavailableError(`Redis is unavailable: ${e.message}`, e);
  }
  return e;
}
