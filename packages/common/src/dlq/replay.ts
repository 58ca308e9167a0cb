import { Worker, type Job as BullJob } from 'bullmq';
import { createRedis, type RedisTarget } from '../checkpoint/connection';
import { type CheckpointStore } from '../checkpoint/store';
import type { Job, ProcessContext } from '../job/types';
import type { Logger } from '../logging';
import { sinkOutputs } from '../sinks/outputs';
import {
  DeadLetterQueue,
  deadLetterPrefix,
  deadLetterQueueName,
  deadLetterReplayedKey,
  fromDeadLetter,
  type DeadLetter,
} from './dead-letter-queue';

export interface ReplayOptions {
  job: Job;
  jobName: string;
  /** Where Redis is: a URL, or the `redis` configuration (ACL user, password file, TLS). */
  redisUrl: RedisTarget;
  /** The job's checkpoint store: its connection applies the outputs. */
  store: CheckpointStore;
  logger: Logger;
  /** Entries replayed at once (default 1: in dead-letter order). */
  concurrency?: number;
  /** How often to look whether the queue is drained (ms). */
  pollMs?: number;
}

export interface ReplayReport {
  /** Entries whose outputs this replay committed. */
  replayed: number;
  /** Entries found marked replayed already (their outputs were committed by an earlier replay). */
  alreadyReplayed: number;
  /** Entries that exhausted their replay attempts; they stay in the queue, in state `failed`. */
  failed: number;
  /** Ids of the failed entries with their last error. */
  failures: Array<{ id: string; error: string }>;
}

/**
 * `sluice dlq replay`: moves entries whose earlier replay failed back to waiting, then runs a BullMQ
 * Worker that calls the job's `decode` and `process` on each entry's record and commits the
 * outputs through the job's sink, until no entry is waiting, delayed (backoff) or active. A failing
 * entry is retried by BullMQ (`deadLetter.replayAttempts`, exponential backoff from
 * `deadLetter.replayBackoffMs`, fixed when the entry was dead-lettered).
 *
 * Redis sinks: the outputs and the entry's replay mark are one Lua script, so an entry's outputs
 * apply exactly once however often it is replayed. `idempotentSink`: `write` runs first, then the
 * mark; at-least-once, as in the job itself.
 */
export async function replayDeadLetters(options: ReplayOptions): Promise<ReplayReport> {
  const { job, jobName, store, logger } = options;
  const report: ReplayReport = { replayed: 0, alreadyReplayed: 0, failed: 0, failures: [] };
  const dlq = DeadLetterQueue.on(store.client, jobName);
  const connection = createRedis(options.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  let worker: Worker | undefined;
  try {
    await dlq.queue.retryJobs({ state: 'failed' });
    worker = new Worker(
      deadLetterQueueName(jobName),
      async (entry: BullJob<DeadLetter>) => {
        const letter = entry.data;
        const raw = fromDeadLetter(letter);
        const record = job.decode ? { ...raw, value: (await job.decode(raw)) as Buffer | null } : raw;
        const context: ProcessContext = {
          job: jobName,
          batchId: letter.batchId,
          topic: letter.topic,
          partition: letter.partition,
          fromOffset: raw.offset,
          untilOffset: raw.offset + 1n,
          attempt: entry.attemptsMade,
          logger: logger.child({ topic: letter.topic, partition: letter.partition, offset: letter.offset, replay: true }),
        };
        const outputs = sinkOutputs(await job.process([record], context), job.sink);
        const outcome = await job.sink.commit(outputs, {
          context,
          commit: (writes) => store.commitReplay(String(entry.id), deadLetterReplayedKey(jobName), writes),
        });
        if (outcome.status === 'committed') report.replayed++;
        else report.alreadyReplayed++;
        return outcome.status;
      },
      { connection, prefix: deadLetterPrefix(jobName), concurrency: options.concurrency ?? 1, autorun: true }
    );
    worker.on('error', (e) => logger.warn({ err: e.message }, 'dead-letter replay worker error'));
    worker.on('failed', (entry, e) => {
      if (!entry) return;
      const final = entry.attemptsMade >= (entry.opts.attempts ?? 1);
      logger.warn({ id: entry.id, attempt: entry.attemptsMade, final, err: e.message }, 'dead-letter replay failed');
      if (final) {
        report.failed++;
        report.failures.push({ id: String(entry.id), error: e.message });
      }
    });
    // Drained when nothing is waiting, in backoff or running, twice in a row.
    let idle = 0;
    while (idle < 2) {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
      const counts = await dlq.queue.getJobCounts('waiting', 'paused', 'prioritized', 'delayed', 'active');
      idle = Object.values(counts).every((n) => n === 0) ? idle + 1 : 0;
    }
  } finally {
    await worker?.close();
    await dlq.close();
    await connection.quit().catch(() => connection.disconnect());
  }
  return report;
}
