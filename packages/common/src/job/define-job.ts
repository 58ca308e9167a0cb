import { z } from 'zod';
import { JobError } from '../errors';
import {
  assignSchema,
  jobNameSchema,
  rateSettingsShape,
  startingOffsetsSchema,
  subscriptionKeys,
  topicPatternSchema,
} from '../config/schema';
import type { Job, JobDefinition } from './types';

const jobSchema = z
  .object({
    name: jobNameSchema,
    source: z
      .object({
        topics: z.array(z.string().min(1)).min(1).optional(),
        pattern: topicPatternSchema.optional(),
        assign: assignSchema.optional(),
        startingOffsets: startingOffsetsSchema.optional(),
        failOnDataLoss: z.boolean().optional(),
      })
      .strict()
      .superRefine((source, ctx) => {
        const given = subscriptionKeys.filter((k) => source[k] !== undefined);
        if (given.length !== 1) {
          ctx.addIssue({
            code: 'custom',
            path: given.length === 0 ? [] : [given[1] as string],
            message:
              given.length === 0
                ? 'needs one of topics, pattern or assign'
                : `cannot be combined with source.${given[0]}: give exactly one of topics, pattern, assign`,
          });
        }
      }),
    batch: z
      .object({ intervalMs: z.number().int().positive().optional(), ...rateSettingsShape })
      .strict()
      .optional(),
    process: z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'must be a function'),
    decode: z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'must be a function').optional(),
    onError: z.enum(['fail', 'dead-letter']).optional(),
    sink: z.custom<{ commit: unknown }>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as { commit?: unknown }).commit === 'function' &&
        ['undefined', 'function'].includes(typeof (v as { validate?: unknown }).validate),
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
  if (!result.success) throw new JobError(`invalid job definition: ${describeIssues(result.error)}`);
  return Object.freeze({ ...definition, __sluiceJob: true as const });
}

/** A failed parse of job code's options, one clause per problem, each naming its key. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown key(s) ${i.keys.map((k) => [...i.path, k].join('.')).join(', ')}`
        : `'${i.path.join('.')}' ${i.message}`
    )
    .join('; ');
}

export function isJob(value: unknown): value is Job {
  return typeof value === 'object' && value !== null && (value as { __sluiceJob?: unknown }).__sluiceJob === true;
}
