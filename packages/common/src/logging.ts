import pino from 'pino';
import pretty from 'pino-pretty';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  /** Human-readable lines instead of JSON; default: when stderr is a terminal. */
  pretty?: boolean;
  /** Where entries go instead of stderr (tests). */
  destination?: NodeJS.WritableStream;
}

/**
 * Logs on stderr (stdout is kept for the per-batch lines and command output): JSON lines (pino),
 * or human-readable lines (pino-pretty) when stderr is a terminal, one line per entry (fields
 * inline), so the entries of `sluice run`'s processes on one terminal never interleave mid-entry.
 * Components add fields with
 * `logger.child({ component, job, batch, topic, partition, executor })`.
 */
const prettyErrorKey = 'exception';

export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, options: LoggerOptions = {}): Logger {
  const human = options.pretty ?? process.stderr.isTTY === true;
  const destination = human
    ? pretty({
        destination: options.destination ?? 2,
        sync: true,
        colorize: true,
        singleLine: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        // pino-pretty prints error-like fields over several lines. sluice logs error messages as
        // text (`err`, kafkajs's `error`); only an Error object logged as such (pino's errorKey) is.
        errorLikeObjectKeys: [prettyErrorKey],
      })
    : (options.destination ?? pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level,
      ...(human ? { errorKey: prettyErrorKey } : {}),
      base: { pid: process.pid, ...base },
      // Credentials may appear in connection settings; never let them reach a log line.
      redact: { paths: ['*.password', '*.token', '*.sasl', 'redisUrl', '*.redisUrl'], censor: '[redacted]' },
    },
    destination
  );
}
