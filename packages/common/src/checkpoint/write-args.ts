import type { RedisValue, RedisWrite } from '../job/types';
import type { ScriptArg } from './scripts';

/**
 * Appends the writes as script arguments (op, key index, arg1, arg2) to `args` (returned), and
 * each sink key (named by `outputKey`) not in `keyIndex` yet to `keys` (the scripts' KEYS, 1-based).
 */
export function encodeWrites(
  writes: RedisWrite[],
  { keys, keyIndex, outputKey }: { keys: string[]; keyIndex: Map<string, number>; outputKey: (key: string) => string },
  args: ScriptArg[] = []
): ScriptArg[] {
  for (const w of writes) {
    const key = outputKey(w.key);
    let index = keyIndex.get(key);
    if (index === undefined) {
      keys.push(key);
      index = keys.length;
      keyIndex.set(key, index);
    }
    const [a, b] = writeArgs(w);
    args.push(w.op, String(index), a, b);
  }
  return args;
}

const scriptArg = (v: RedisValue): ScriptArg => (typeof v === 'number' ? String(v) : v);

function writeArgs(w: RedisWrite): [ScriptArg, ScriptArg] {
  switch (w.op) {
    case 'hincrby':
      return [scriptArg(w.field), String(w.by)];
    case 'incrby':
      return [String(w.by), ''];
    case 'hset':
      return [scriptArg(w.field), scriptArg(w.value)];
    case 'set':
      return [scriptArg(w.value), ''];
    case 'sadd':
      return [scriptArg(w.member), ''];
    case 'rpush':
      return [scriptArg(w.value), ''];
  }
}
