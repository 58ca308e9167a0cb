import { z } from 'zod';
import { JobError } from '../errors';
import { rateSettingsShape, startingOffsetsSchema } from '../config/schema';
import type { Job, JobDefinition } from './types';

const jobSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
    source: z.object({ topics: z.array(z.string().min(1)).min(1), startingOffsets: startingOffsetsSchema.optional() }).strict(),
    batch: z
      .object({ intervalMs: z.number().int().positive().optional(), ...rateSettingsShape })
      .strict()
      .optional(),
    process: z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'must be a function'),
    sink: z.custom<{ commit: unknown }>(
      (v) => typeof v === 'object' && v !== null && typeof (v as { commit?: unknown }).commit === 'function',
      'must be a sink (e.g. redisSink(), redisCounterSink({ key }), idempotentSink({ write }))'
    ),
  })
  .strict();

/**
 * Declares a job. Both the driver (source and batch settings) and executors (`process`, `sink`)
 * load the same module, so the definition is validated here, once, with errors that name the key.
 */
export function defineJob<Out>(definition: JobDefinition<Out>): Job<Out> {
  const result = jobSchema.safeParse(definition);
  if (!result.success) {
    const problems = result.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown key(s) ${i.keys.map((k) => [...i.path, k].join('.')).join(', ')}`
        : `'${i.path.join('.')}' ${i.message}`
    );
    throw new JobError(`invalid job definition: ${problems.join('; ')}`);
  }
  return Object.freeze({ ...definition, __sluiceJob: true as const });
}

export function isJob(value: unknown): value is Job {
  return typeof value === 'object' && value !== null && (value as { __sluiceJob?: unknown }).__sluiceJob === true;
}
