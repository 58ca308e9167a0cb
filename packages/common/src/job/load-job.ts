import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JobError } from '../errors';
import { isJob } from './define-job';
import type { Job } from './types';

/**
 * Loads a job module by path (file or package directory, relative to `cwd`) or by package name.
 * A package name is looked up from `cwd`, then from sluice's own installation (so a job package
 * installed beside sluice, as in the container image, loads whatever the working directory), then
 * in `NODE_PATH`. The module must export a job made with `defineJob`, as `default` or as `job`.
 */
export async function loadJob(specifier: string, cwd: string = process.cwd()): Promise<Job> {
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
