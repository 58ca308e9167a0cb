import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from '../errors';
import { configSchema, type SluiceConfig } from './schema';

/**
 * Builds the one validated, frozen configuration of a process from, in rising precedence:
 * schema defaults, a JSON file, the environment, and command-line flags. Any unknown or invalid
 * key fails start-up with a {@link ConfigError} that names it and says where it came from.
 */

type Section = keyof SluiceConfig;
type PlainObject = Record<string, unknown>;

/** Environment variables that other tools use and that are conventional, mapped to config keys. */
const conventionalEnv: Record<string, [Section, string]> = {
  KAFKA_BROKERS: ['kafka', 'brokers'],
  REDIS_URL: ['redis', 'url'],
  LOG_LEVEL: ['log', 'level'],
};

const sectionShapes = configSchema.shape as unknown as Record<Section, z.ZodType>;

function unwrap(type: z.ZodType): z.ZodType {
  let current = type as z.ZodType & { def: { innerType?: z.ZodType } };
  while (current.def.innerType) current = current.def.innerType;
  return current;
}

function keysOf(section: Section): Record<string, z.ZodType> {
  return (unwrap(sectionShapes[section]) as z.ZodObject).shape;
}

const toEnvName = (camel: string): string => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Converts an environment string to the type the key expects. */
function fromEnvString(type: z.ZodType, raw: string, name: string): unknown {
  const kind = unwrap(type).def.type;
  if (kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${name}: expected a number, got '${raw}'`);
    return n;
  }
  if (kind === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ConfigError(`${name}: expected true or false, got '${raw}'`);
  }
  if (kind === 'array')
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  if ((kind === 'union' || kind === 'record') && raw.trim().startsWith('{')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new ConfigError(`${name}: expected JSON, got '${raw}'`);
    }
  }
  return raw;
}

/** Reads `KAFKA_BROKERS`, `REDIS_URL`, `LOG_LEVEL` and `SLUICE_<SECTION>_<KEY>` (e.g. `SLUICE_DRIVER_TASK_TIMEOUT_MS`). */
export function configFromEnv(env: NodeJS.ProcessEnv): PlainObject {
  const out: Record<string, PlainObject> = {};
  const set = (section: Section, key: string, envName: string, raw: string): void => {
    const type = keysOf(section)[key];
    if (!type) throw new ConfigError(`${envName}: unknown configuration key ${section}.${key}`);
    (out[section] ??= {})[key] = fromEnvString(type, raw, envName);
  };
  for (const [name, [section, key]] of Object.entries(conventionalEnv)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') set(section, key, name, raw);
  }
  const sections = Object.keys(sectionShapes) as Section[];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('SLUICE_')) continue;
    const rest = name.slice('SLUICE_'.length);
    const section = sections.find((s) => rest.startsWith(`${toEnvName(s)}_`));
    // Variables outside the config sections (e.g. SLUICE_CACHE of the local scripts) are not ours to judge.
    if (!section) continue;
    const envKey = rest.slice(toEnvName(section).length + 1);
    const key = Object.keys(keysOf(section)).find((k) => toEnvName(k) === envKey);
    if (!key) throw new ConfigError(`${name}: unknown configuration key (section '${section}' has no '${envKey}')`);
    set(section, key, name, raw);
  }
  return out;
}

export function configFromFile(path: string): PlainObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(parsed)) {
    const kind = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    throw new ConfigError(`config file ${path} must hold a JSON object, not ${kind}`);
  }
  return parsed;
}

function isPlainObject(v: unknown): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: PlainObject, over: PlainObject): PlainObject {
  const out: PlainObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const existing = out[k];
    out[k] = isPlainObject(existing) && isPlainObject(v) ? deepMerge(existing, v) : v;
  }
  return out;
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, already shaped like the config (`{ driver: { batches: 3 } }`). */
  flags?: PlainObject;
}

export function loadConfig(sources: ConfigSources = {}): Readonly<SluiceConfig> {
  const layers = [sources.file ? configFromFile(sources.file) : {}, configFromEnv(sources.env ?? {}), sources.flags ?? {}];
  const merged = layers.reduce(deepMerge, {});
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.');
      return issue.code === 'unrecognized_keys'
        ? `unknown configuration key(s) ${issue.keys.map((k) => (key ? `${key}.${k}` : k)).join(', ')}`
        : `'${key}' ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { problems });
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value) || Array.isArray(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
