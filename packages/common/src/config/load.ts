import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from '../errors';
import { configSchema, type SluiceConfig } from './schema';

/**
 * Builds the one validated, frozen configuration of a process from, in rising precedence:
 * schema defaults, a JSON file, the environment, `--conf key=value` settings, and dedicated
 * command-line flags (as spark-submit: `--executor-memory` beats `--conf spark.executor.memory`,
 * which beats the properties file). Any unknown or invalid key fails start-up with a
 * {@link ConfigError} that names it, the value and where it came from.
 */

type Section = keyof SluiceConfig;
type PlainObject = Record<string, unknown>;

/** A setting given as text (environment, `--conf`, a flag), converted to the type of its key. */
export interface TextSetting {
  /** Dotted configuration key: `job.batchIntervalMs`. */
  key: string;
  /** The text; `true` for a flag without a value (`--standby`); undefined = not given. */
  value: string | true | undefined;
  /** Where it came from, named in errors: `--batch-interval-ms`, `KAFKA_BROKERS`, `--conf job.name`. */
  source: string;
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** `--conf key=value` settings, in order: a later one wins. */
  conf?: string[];
  /** Dedicated command-line flags: the highest precedence. */
  flags?: TextSetting[];
}

/** Environment variables that other tools use and that are conventional, mapped to config keys. */
const conventionalEnv: Record<string, string> = {
  KAFKA_BROKERS: 'kafka.brokers',
  REDIS_URL: 'redis.url',
  LOG_LEVEL: 'log.level',
};

/** Keys that address an object's prototype: never configuration, refused wherever JSON holds them. */
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

const sectionShapes = configSchema.shape as unknown as Record<Section, z.ZodType>;
const sections = Object.keys(sectionShapes) as Section[];

function unwrap(type: z.ZodType): z.ZodType {
  let current = type as z.ZodType & { def: { innerType?: z.ZodType } };
  while (current.def.innerType) current = current.def.innerType;
  return current;
}

function keysOf(section: Section): Record<string, z.ZodType> {
  return (unwrap(sectionShapes[section]) as z.ZodObject).shape;
}

/** The schema type of a dotted `section.key`, or undefined when there is no such key. */
function typeOfKey(key: string): z.ZodType | undefined {
  const [section, name, ...rest] = key.split('.');
  if (rest.length > 0 || name === undefined || !sections.includes(section as Section)) return undefined;
  return Object.hasOwn(keysOf(section as Section), name) ? keysOf(section as Section)[name] : undefined;
}

const toEnvName = (camel: string): string => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/**
 * JSON from a file, a variable or a flag. Refuses keys that address an object's prototype: JSON.parse
 * keeps `__proto__` as a plain key, but any later copy of the object turns it into the prototype.
 */
export function parseConfigJson(text: string, source: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`${source} is not valid JSON: ${(e as Error).message}`, { source });
  }
  const refuse = (value: unknown, path: string[]): void => {
    if (typeof value !== 'object' || value === null) return;
    for (const [k, v] of Object.entries(value)) {
      if (forbiddenKeys.has(k))
        throw new ConfigError(
          `${source}: key '${[...path, k].join('.')}' is not allowed (__proto__, constructor and prototype never are)`,
          {
            source,
            key: [...path, k].join('.'),
          }
        );
      refuse(v, [...path, k]);
    }
  };
  refuse(parsed, []);
  return parsed;
}

/** A number as text: plain decimal only (no hex, exponent, padding or trailing characters). */
function decimal(raw: string, integer: boolean, source: string): number {
  if (!(integer ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/).test(raw))
    throw new ConfigError(`${source}: expected a decimal ${integer ? 'integer' : 'number'}, got '${raw}'`, { source, value: raw });
  return Number(raw);
}

/** Converts a text setting to the type its key expects. */
function fromText({ key, value, source }: TextSetting & { value: string | true }): unknown {
  const type = typeOfKey(key);
  if (!type) throw new ConfigError(`${source}: unknown configuration key ${key}`, { source, key });
  const base = unwrap(type);
  const kind = base.def.type;
  if (value === true) {
    if (kind === 'boolean') return true;
    throw new ConfigError(`${source}: needs a value`, { source, key });
  }
  // An empty value is a mistake (an unset variable, a forgotten argument) unless the key accepts ''.
  if (value.trim() === '' && !type.safeParse(value).success)
    throw new ConfigError(`${source} is empty: give a value for ${key} or leave it unset for the default`, { source, key });
  if (kind === 'number') return decimal(value, (base as z.ZodNumber).isInt, source);
  if (kind === 'boolean') {
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw new ConfigError(`${source}: expected true or false, got '${value}'`, { source, value });
  }
  if (kind === 'array')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  if ((kind === 'union' || kind === 'record') && value.trim().startsWith('{')) return parseConfigJson(value, source);
  return value;
}

/** Where each `section.key` of a layer came from, for error messages. */
type Provenance = Map<string, string>;

interface Layer {
  values: PlainObject;
  provenance: Provenance;
}

function textLayer(settings: TextSetting[]): Layer {
  const values: Record<string, PlainObject> = {};
  const provenance: Provenance = new Map();
  for (const setting of settings) {
    if (setting.value === undefined) continue;
    const converted = fromText({ ...setting, value: setting.value });
    const [section, name] = setting.key.split('.') as [string, string];
    (values[section] ??= {})[name] = converted;
    provenance.set(setting.key, setting.source);
  }
  return { values, provenance };
}

/** `KAFKA_BROKERS`, `REDIS_URL`, `LOG_LEVEL` and `SLUICE_<SECTION>_<KEY>` (e.g. `SLUICE_DRIVER_TASK_TIMEOUT_MS`). */
function envSettings(env: NodeJS.ProcessEnv): TextSetting[] {
  const settings: TextSetting[] = Object.entries(conventionalEnv).map(([name, key]) => ({ key, value: env[name], source: name }));
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('SLUICE_')) continue;
    const rest = name.slice('SLUICE_'.length);
    const section = sections.find((s) => rest.startsWith(`${toEnvName(s)}_`));
    // Variables outside the config sections (e.g. SLUICE_CACHE of the local scripts) are not ours to judge.
    if (!section) continue;
    const envKey = rest.slice(toEnvName(section).length + 1);
    const key = Object.keys(keysOf(section)).find((k) => toEnvName(k) === envKey);
    if (!key) throw new ConfigError(`${name}: unknown configuration key (section '${section}' has no '${envKey}')`);
    settings.push({ key: `${section}.${key}`, value: raw, source: name });
  }
  return settings;
}

/** `--conf section.key=value`, as spark-submit's `--conf`: any key of the schema. */
function confSettings(conf: string[]): TextSetting[] {
  return conf.map((entry) => {
    const at = entry.indexOf('=');
    if (at <= 0) throw new ConfigError(`--conf '${entry}': expected key=value, e.g. --conf driver.taskTimeoutMs=30000`, { value: entry });
    const key = entry.slice(0, at).trim();
    if (!typeOfKey(key))
      throw new ConfigError(`--conf ${key}: unknown configuration key (keys are <section>.<name>, e.g. driver.taskTimeoutMs)`, { key });
    return { key, value: entry.slice(at + 1), source: `--conf ${key}` };
  });
}

/** Reads the variables of the environment that configure sluice, shaped like the configuration. */
export function configFromEnv(env: NodeJS.ProcessEnv): PlainObject {
  return textLayer(envSettings(env)).values;
}

function fileLayer(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  const parsed = parseConfigJson(text, `config file ${path}`);
  if (!isPlainObject(parsed)) {
    const kind = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    throw new ConfigError(`config file ${path} must hold a JSON object, not ${kind}`);
  }
  const provenance: Provenance = new Map();
  for (const [section, values] of Object.entries(parsed)) {
    provenance.set(section, `config file ${path}`);
    if (isPlainObject(values)) for (const key of Object.keys(values)) provenance.set(`${section}.${key}`, `config file ${path}`);
  }
  return { values: parsed, provenance };
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

/** A value as an error message shows it: JSON, long ones cut, credentials in URLs masked. */
function show(value: unknown): string {
  const text = (JSON.stringify(value) ?? String(value)).replace(/\/\/[^/@\s"]*@/g, '//***@');
  if (text.length <= 60) return text;
  return `${text.slice(0, 40)}… (${typeof value === 'string' ? value.length : text.length} characters)`;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, k) => (isPlainObject(node) || Array.isArray(node) ? (node as PlainObject)[k as string] : undefined),
    root
  );
}

export function loadConfig(sources: ConfigSources = {}): Readonly<SluiceConfig> {
  const layers = [
    sources.file ? fileLayer(sources.file) : undefined,
    textLayer(envSettings(sources.env ?? {})),
    textLayer(confSettings(sources.conf ?? [])),
    textLayer(sources.flags ?? []),
  ].filter((layer): layer is Layer => layer !== undefined);
  const merged = layers.map((l) => l.values).reduce(deepMerge, {});
  const provenance: Provenance = new Map(layers.flatMap((l) => [...l.provenance]));
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.');
      if (issue.code === 'unrecognized_keys')
        return `unknown configuration key(s) ${issue.keys.map((k) => (key ? `${key}.${k}` : k)).join(', ')}`;
      const value = valueAt(merged, issue.path);
      const source = provenance.get(issue.path.slice(0, 2).join('.')) ?? provenance.get(String(issue.path[0]));
      const given = value === undefined ? '' : ` (got ${show(value)}${source ? ` from ${source}` : ''})`;
      return `'${key}' ${issue.message}${given}`;
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
