import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Structured JSON logs on stderr (stdout is kept for the per-batch lines and command output).
 * Components add fields with `logger.child({ component, batch, topic, partition, executor })`.
 */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...base },
      // Credentials may appear in connection settings; never let them reach a log line.
      redact: { paths: ['*.password', '*.token', '*.sasl', 'redisUrl', '*.redisUrl'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: true })
  );
}
