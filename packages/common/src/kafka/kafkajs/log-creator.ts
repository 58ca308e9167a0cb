import { logLevel, type logCreator } from 'kafkajs';

import type { Logger } from '../../logging';

type PinoLevel = 'warn' | 'info' | 'debug' | 'trace';

/**
 * kafkajs logs one level "louder" than sluice wants: it reports a retried connection attempt as
 * ERROR and routine (re)connects as INFO. Each kafkajs level is therefore logged one pino level lower.
 */
const levelMap: Record<number, PinoLevel> = {
  [logLevel.ERROR]: 'warn',
  [logLevel.WARN]: 'info',
  [logLevel.INFO]: 'debug',
  [logLevel.DEBUG]: 'trace',
};

/**
 * The kafkajs `logLevel` matching `logger`'s level under the one-level-down mapping, so kafkajs does
 * not even build log entries that pino would drop.
 */
export function kafkajsLogLevel(logger: Logger): logLevel {
  if (logger.isLevelEnabled('trace')) return logLevel.DEBUG;
  if (logger.isLevelEnabled('debug')) return logLevel.INFO;
  if (logger.isLevelEnabled('info')) return logLevel.WARN;
  if (logger.isLevelEnabled('warn')) return logLevel.ERROR;
  return logLevel.NOTHING;
}

/** Keys pino writes itself; a log call's fields must not repeat them. */
const pinoKeys = ['level', 'time', 'msg', 'pid', 'hostname'];

/**
 * A kafkajs `logCreator` that routes kafkajs's logs into `logger` (field `kafkajs` = its namespace),
 * one level lower than kafkajs reports them (kafkajs is noisy at INFO). pino writes every field it
 * is given, so a kafkajs field that `logger` already carries (its `component`, a `topic`) is left
 * out when equal and renamed `kafkajs.<field>` when not: each key appears once in a line.
 */
export function kafkajsLogCreator(logger: Logger): logCreator {
  const bound = { ...logger.bindings(), kafkajs: true };
  return () =>
    ({ namespace, level, log }) => {
      const pinoLevel = levelMap[level];
      if (pinoLevel === undefined) return;
      // kafkajs adds its own timestamp and logger name; pino has both already.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      const fields: Record<string, unknown> = { kafkajs: namespace };
      for (const [key, value] of Object.entries(extra)) {
        if (pinoKeys.includes(key) || Object.hasOwn(bound, key)) {
          if ((bound as Record<string, unknown>)[key] !== value) fields[`kafkajs.${key}`] = value;
        } else fields[key] = value;
      }
      logger[pinoLevel](fields, message);
    };
}
