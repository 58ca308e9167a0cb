// Module hooks for node: k6's built-in modules resolve to the stubs next to this file, a remote
// import fails (the scripts must run offline), and the k6 scripts (.js under deploy/k6) load as ES
// modules.
const stubs = {
  k6: 'k6.mjs',
  'k6/http': 'http.mjs',
  'k6/metrics': 'metrics.mjs',
  'k6/execution': 'execution.mjs',
  'k6/x/kafka': 'kafka.mjs',
};

export async function resolve(specifier, context, next) {
  if (specifier in stubs) return { url: new URL(stubs[specifier], import.meta.url).href, shortCircuit: true };
  if (specifier.startsWith('k6') || specifier.startsWith('https:')) throw new Error(`no stub for ${specifier}`);
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.includes('/deploy/k6/')) return next(url, { ...context, format: 'module' });
  return next(url, context);
}
