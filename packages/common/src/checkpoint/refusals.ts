import type Redis from 'ioredis';
import type { Command } from 'ioredis';
import { RedisPermissionError, type RedisRefusal } from '../errors';

/**
 * Redis refuses a command its ACL user may not run with a reply that names neither the user nor
 * (before Redis 7.2) the key: at the top level `NOPERM ...`, inside a Lua script an `ERR` about
 * "the user executing the script". These become {@link RedisPermissionError}s that name all three.
 */
const commandRefused = /no permissions to run the '([^']+)' command/i;
const scriptCommandRefused = /can't run this command or subcommand/i;
const keyRefused = /no permissions to access (?:the '([^']*)' key|one of the keys|a key)|can't access at least one of the keys/i;

/** The ACL user a connection authenticated as (`default` when it gave no name). */
export function redisUser(redis: Redis): string {
  return redis.options.username || 'default';
}

/** `e` as a {@link RedisPermissionError} when it is Redis refusing `command` to `user`, else `e` unchanged. */
export function asRedisRefusal(e: unknown, user: string, command: Pick<Command, 'name' | 'args'>): unknown {
  if (!(e instanceof Error)) return e;
  const reply = e.message;
  const name = command.name.toUpperCase();
  const keys = keysOf(command);
  const refusal = (fields: Pick<RedisRefusal, 'command' | 'refused' | 'keys'>): RedisPermissionError =>
    new RedisPermissionError({ user, reply, ...fields });
  const run = commandRefused.exec(reply);
  if (run) return refusal({ command: (run[1] as string).toUpperCase(), refused: 'command', keys });
  if (scriptCommandRefused.test(reply)) return refusal({ command: name, refused: 'script-command', keys });
  const key = keyRefused.exec(reply);
  if (key) return refusal({ command: name, refused: 'keys', keys: key[1] ? [key[1]] : keys });
  return e;
}

/**
 * The keys a command names: those declared to a script (EVAL, EVALSHA), else its first argument
 * (every other command sluice sends names its key first).
 */
function keysOf({ name, args }: Pick<Command, 'name' | 'args'>): string[] {
  const words = args.map(String);
  if (/^eval(sha)?(_ro)?$/i.test(name)) return words.slice(2, 2 + Number(words[1] ?? 0));
  return words.slice(0, 1);
}

/**
 * Makes every refusal of a command on `redis` a {@link RedisPermissionError}. Every command,
 * pipelined or not, is written through `sendCommand`, and its promise settles through its `reject`.
 */
export function codeRefusals(redis: Redis): void {
  const user = redisUser(redis);
  const send = redis.sendCommand.bind(redis);
  const coded = new WeakSet<Command['reject']>();
  redis.sendCommand = (command, stream) => {
    if (!coded.has(command.reject)) {
      const reject = command.reject;
      command.reject = (e) => reject(asRedisRefusal(e, user, command) as Error);
      coded.add(command.reject);
    }
    return send(command, stream);
  };
}
