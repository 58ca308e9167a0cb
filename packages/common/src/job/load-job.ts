import { existsSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JobError } from '../errors';
import { isJob } from './define-job';
import type { Job } from './types';

/** `@sluice/common` and its subpaths: what a job imports from sluice. */
const SELF = /^@sluice\/common(\/.*)?$/;
let selfFallback = false;

/**
 * Lets a job that has no `@sluice/common` of its own (a file outside any project, a mounted
 * ConfigMap, a job run through a globally installed CLI) import or require it: when Node finds none
 * from the job's folder, the copy of sluice that loads the job answers. One installed where the job
 * is always wins. A synchronous module hook, so it serves `require` and `import` alike.
 */
function provideSelfToJobs(): void {
  // module.registerHooks needs Node >= 22.15 (the engines floor); on an older Node a job needs its own install.
  if (selfFallback || typeof nodeModule.registerHooks !== 'function') return;
  selfFallback = true;
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (!SELF.test(specifier) || (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND')) throw e;
        return { url: pathToFileURL(require.resolve(specifier)).href, shortCircuit: true };
      }
    },
  });
}

/**
 * Loads a job module by path (file or package directory, relative to `cwd`) or by package name.
 * A package name is looked up from `cwd`, then from sluice's own installation (so a job package
 * installed beside sluice, as in the container image, loads whatever the working directory), then
 * in `NODE_PATH`. The module must export a job made with `defineJob`, as `default` or as `job`;
 * it imports `@sluice/common` from its own installation or, without one, from this one.
 */
export async function loadJob(specifier: string, cwd: string = process.cwd()): Promise<Job> {
  provideSelfToJobs();
  const looksLikePath = specifier.startsWith('.') || isAbsolute(specifier) || existsSync(resolve(cwd, specifier));
  let target: string;
  try {
    target = looksLikePath ? resolve(cwd, specifier) : specifier;
    // Resolve first so that "not found" is told apart from an error thrown while the module runs.
    target = require.resolve(target, { paths: looksLikePath ? [cwd] : [cwd, __dirname] });
  } catch (e) {
    const where = looksLikePath ? `at ${resolve(cwd, specifier)}` : `for a package from ${cwd} and from sluice's installation`;
    throw new JobError(`job module '${specifier}' not found (looked ${where})`, e);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(target).href)) as Record<string, unknown>;
  } catch (e) {
    throw new JobError(`job module '${specifier}' failed to load: ${(e as Error).message}`, e);
  }
  // CommonJS modules arrive with their exports under `default`; ES modules may export `default` or `job`.
  const candidates = [mod.default, mod.job, (mod.default as Record<string, unknown> | undefined)?.default];
  const job = candidates.find(isJob);
  if (!job) {
    throw new JobError(`job module '${specifier}' does not export a job: export default defineJob({ ... })`);
  }
  return job;
}
