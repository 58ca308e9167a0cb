import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';

/**
 * Lua scripts live as files named `<name>-<numKeys>.lua` (`-n` when the caller passes the key
 * count), each with a header documenting KEYS, ARGV and the result. A line `--- @include "name"`
 * is replaced by `lua/includes/<name>.lua` (code several scripts share). They are registered once
 * per connection; ioredis runs them by EVALSHA and reloads them on NOSCRIPT (e.g. after SCRIPT FLUSH).
 */
export const scriptNames = [
  'commitChunks',
  'writePlan',
  'commitBatch',
  'renewLease',
  'releaseLease',
  'replayDeadLetter',
  'checkAccess',
  'followOffsets',
  'recordBlock',
  'allocateBlocks',
  'commitBlock',
  'commitBlockBatch',
] as const;
export type ScriptName = (typeof scriptNames)[number];

export type ScriptArg = string | number | Buffer;

export type ScriptReply = [string, ...(string | null)[]];

export type ScriptedRedis = Redis & {
  // Arrays are flattened into arguments by ioredis (and avoid spreading huge argument lists); Buffers go byte for byte.
  [K in ScriptName]: (...args: Array<ScriptArg | Array<ScriptArg>>) => Promise<ScriptReply>;
};

const luaDir = join(__dirname, 'lua');

const toCamel = (kebab: string): string => kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function withIncludes(lua: string, file: string): string {
  return lua.replace(/^--- @include "([a-z-]+)"$/gm, (_, name: string) => {
    try {
      return readFileSync(join(luaDir, 'includes', `${name}.lua`), 'utf8');
    } catch {
      throw new Error(`Lua script ${file} includes "${name}", but lua/includes/${name}.lua does not exist`);
    }
  });
}

export interface ScriptSource {
  name: ScriptName;
  /** With its includes in place. */
  lua: string;
  /** Undefined when the caller passes the key count. */
  numberOfKeys?: number;
}

let sources: ScriptSource[] | undefined;

/** Every script, read once. */
export function scriptSources(): ScriptSource[] {
  sources ??= readdirSync(luaDir)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const match = /^(.+)-(\d+|n)\.lua$/.exec(file);
      if (!match) throw new Error(`Lua script ${file} must be named <name>-<numKeys>.lua`);
      const [, name, keys] = match as unknown as [string, string, string];
      const lua = withIncludes(readFileSync(join(luaDir, file), 'utf8'), file);
      return { name: toCamel(name) as ScriptName, lua, ...(keys === 'n' ? {} : { numberOfKeys: Number(keys) }) };
    });
  return sources;
}

/** The Redis commands a script calls: `redis.call('HSET', ...)`, or the same through a local alias `rcall`. */
export function commandsCalledBy(lua: string): string[] {
  return [...new Set([...lua.matchAll(/\b(?:redis\.p?call|rcall)\(\s*'([A-Za-z]+)'/g)].map((m) => (m[1] as string).toUpperCase()))];
}

export function registerScripts(redis: Redis): ScriptedRedis {
  for (const { name, lua, numberOfKeys } of scriptSources()) {
    redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  }
  return redis as ScriptedRedis;
}
