import type { ChunkCommitter, CommitOutcome, ProcessContext, RedisValue, RedisWrite, Sink } from '../job/types';
import { JobError } from '../errors';
import { counterOutputProblem, redisWriteProblem, sinkKeyProblem } from './outputs';

/**
 * Built-in sinks. Keys given to Redis sinks are names inside the job's namespace: key `counts` of
 * job `wc` is stored at `sluice:{wc}:out:counts`, so it shares the job's hash tag and the commit
 * script stays legal on Redis Cluster.
 */

/**
 * Exactly-once: `process` returns {@link RedisWrite}s (hash/string counters, hash and string sets,
 * set adds, list appends); they are applied in the same Lua script that advances the offset.
 */
export function redisSink(): Sink<RedisWrite> {
  return {
    kind: 'redis',
    guarantee: 'exactly-once',
    validate: redisWriteProblem,
    commit: (outputs: RedisWrite[], committer: ChunkCommitter): Promise<CommitOutcome> => committer.commit(outputs),
  };
}

/**
 * Exactly-once counters in one Redis hash: `process` returns fields (each counts 1) or
 * `[field, increment]` pairs. Increments are summed per chunk before the commit, so the script
 * receives one HINCRBY per distinct field.
 */
export function redisCounterSink(options: { key: string }): Sink<RedisValue | [RedisValue, number]> {
  // Checked when the job module loads: every commit would otherwise be refused.
  const keyProblem = sinkKeyProblem((options as Partial<typeof options> | undefined)?.key, 'redisCounterSink: options.key');
  if (keyProblem !== undefined) throw new JobError(keyProblem);
  return {
    kind: 'redis-counter',
    guarantee: 'exactly-once',
    validate: counterOutputProblem,
    commit: (outputs, committer) => {
      const sums = new Map<RedisValue, number>();
      for (let i = 0; i < outputs.length; i++) {
        const out = outputs[i] as RedisValue | [RedisValue, number];
        // No tuple per output: word counts return one string per word.
        const field = Array.isArray(out) ? out[0] : out;
        const by = Array.isArray(out) ? out[1] : 1;
        sums.set(field, (sums.get(field) ?? 0) + by);
      }
      const writes: RedisWrite[] = [];
      for (const [field, by] of sums) writes.push({ op: 'hincrby', key: options.key, field, by });
      return committer.commit(writes);
    },
  };
}

/**
 * At-least-once, for external stores: `write` receives the chunk's outputs and its coordinates
 * (topic, partition, offsets, batch), and must be idempotent, keyed by those coordinates or by
 * the records' own (topic, partition, offset). The offset advances only after `write` resolves;
 * a crash in between replays the chunk, so `write` may see the same outputs again.
 */
export function idempotentSink<Out>(options: { write(outputs: Out[], context: ProcessContext): Promise<void> | void }): Sink<Out> {
  return {
    kind: 'idempotent',
    guarantee: 'at-least-once',
    commit: async (outputs, committer) => {
      await options.write(outputs, committer.context);
      return committer.commit([]);
    },
  };
}
