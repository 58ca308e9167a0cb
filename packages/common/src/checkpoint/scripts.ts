import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';

/**
 * Lua scripts live as files named `<name>-<numKeys>.lua` (`-n` when the caller passes the key
 * count), each with a header documenting KEYS, ARGV and the result. They are registered once per
 * connection; ioredis runs them by EVALSHA and reloads them on NOSCRIPT (e.g. after SCRIPT FLUSH).
 */
export const scriptNames = ['commitChunk', 'writePlan', 'commitBatch', 'renewLease', 'releaseLease'] as const;
export type ScriptName = (typeof scriptNames)[number];

export type ScriptReply = [string, ...(string | null)[]];

export type ScriptedRedis = Redis & {
  // Arrays are flattened into arguments by ioredis (and avoid spreading huge argument lists).
  [K in ScriptName]: (...args: Array<string | number | Array<string | number>>) => Promise<ScriptReply>;
};

const luaDir = join(__dirname, 'lua');

const toCamel = (kebab: string): string => kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function registerScripts(redis: Redis): ScriptedRedis {
  for (const file of readdirSync(luaDir).filter((f) => f.endsWith('.lua'))) {
    const match = /^(.+)-(\d+|n)\.lua$/.exec(file);
    if (!match) throw new Error(`Lua script ${file} must be named <name>-<numKeys>.lua`);
    const [, name, keys] = match as unknown as [string, string, string];
    const lua = readFileSync(join(luaDir, file), 'utf8');
    redis.defineCommand(toCamel(name), keys === 'n' ? { lua } : { lua, numberOfKeys: Number(keys) });
  }
  return redis as ScriptedRedis;
}
