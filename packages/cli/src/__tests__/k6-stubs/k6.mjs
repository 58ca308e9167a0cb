import { state } from './state.mjs';
export function check(value, sets, tags) {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    const ok = Boolean(fn(value));
    state.checks.push({ name, ok, tags });
    all = all && ok;
  }
  return all;
}
export function sleep() {}
export default { check, sleep };
