import {
  InvalidOutputError,
  ProcessFailedError,
  SluiceError,
  recordBytes,
  sinkOutputs,
  toDeadLetter,
  type DeadLetter,
  type ErrorPolicy,
  type Job,
  type ProcessContext,
  type SourceRecord,
} from '@sluice/common';

/**
 * Poison records: records the job's code cannot handle (`process` or `decode` throws, or `process`
 * returns an output the sink's `validate` refuses) or that are above `deadLetter.maxRecordBytes`.
 *
 * - `fail`: the chunk fails with an error naming the topic, partition and first poison offset; the
 *   driver retries the task up to `driver.maxTaskFailures`, then stops the job (oversized records
 *   fail without retries: a retry cannot change their size).
 * - `dead-letter`: oversized records are dead-lettered at once (without calling the job). When
 *   `process` or `decode` fails, the task fails as under `fail` until its attempt index reaches
 *   `maxAttempts - 1`; that attempt re-runs `process` record by record on the chunk, dead-letters
 *   exactly the records that fail, and commits the outputs of the others with the offset advance.
 *   The dead letters are added before the commit, under deterministic ids, so a crash in between
 *   only re-adds the same ids on the retry.
 */
export interface PoisonSettings {
  policy: ErrorPolicy;
  /** Task attempts before poison records are dead-lettered (attempt index >= maxAttempts - 1). */
  maxAttempts: number;
  /** 0 = no limit. */
  maxRecordBytes: number;
  /** Adds dead letters (idempotently, by id) before the chunk commits. */
  deadLetter(letters: DeadLetter[]): Promise<void>;
}

export const defaultPoisonSettings: PoisonSettings = {
  policy: 'fail',
  maxAttempts: 3,
  maxRecordBytes: 1024 * 1024,
  deadLetter: () => Promise.reject(new Error('no dead-letter queue configured')),
};

const messageOf = (e: unknown): string => (e instanceof InvalidOutputError ? e.problem : e instanceof Error ? e.message : String(e));

/** How a failure of `process` reads: it threw, or it returned outputs the sink cannot commit. */
const processFailure = (e: unknown): string => (e instanceof InvalidOutputError ? 'process returned an invalid output' : 'process failed');

/** Runs `decode` (if any) and `process` on one chunk under the poison policy; resolves to the outputs to commit. */
export async function processChunk(
  job: Job,
  records: SourceRecord[],
  context: ProcessContext,
  settings: PoisonSettings,
  /** Earlier attempts that failed on the task's own account (default: the attempt index). */
  failures = context.attempt
): Promise<{ outputs: unknown[]; deadLettered: number }> {
  const where = `${context.topic}-${context.partition}`;
  const chunk = `[${context.fromOffset}, ${context.untilOffset})`;
  const deadLetterNow = settings.policy === 'dead-letter' && failures >= settings.maxAttempts - 1;
  const poison: DeadLetter[] = [];
  const letter = (r: SourceRecord, reason: DeadLetter['reason'], error: string): number =>
    poison.push(toDeadLetter(r, reason, error, failures + 1, context.batchId));
  const failed = (offset: bigint, what: string, cause: unknown): ProcessFailedError =>
    new ProcessFailedError(
      `job '${context.job}' ${what} on ${where} at offset ${offset} (chunk ${chunk}): ${messageOf(cause)}`,
      {
        topic: context.topic,
        partition: context.partition,
        offset: String(offset),
        from: String(context.fromOffset),
        until: String(context.untilOffset),
      },
      cause
    );

  // Screening: size and decode, record by record (only when a limit or a decoder is set).
  let input = records;
  let raw = records;
  // Without a decoder, the common case (nothing oversized) passes the chunk on without copying it.
  let oversized = false;
  if (settings.maxRecordBytes > 0 && !job.decode)
    for (let i = 0; i < records.length && !oversized; i++) oversized = recordBytes(records[i] as SourceRecord) > settings.maxRecordBytes;
  if (oversized || job.decode) {
    input = [];
    raw = [];
    for (const r of records) {
      if (settings.maxRecordBytes > 0) {
        const bytes = recordBytes(r);
        if (bytes > settings.maxRecordBytes) {
          const why = `record of ${bytes} bytes is above deadLetter.maxRecordBytes (${settings.maxRecordBytes})`;
          if (settings.policy === 'fail')
            throw new SluiceError('SLUICE_PROCESS_FAILED', `job '${context.job}': ${where} at offset ${r.offset}: ${why}`, {
              details: { topic: context.topic, partition: context.partition, offset: String(r.offset) },
            });
          letter(r, 'oversized', why);
          continue;
        }
      }
      if (job.decode) {
        let value: unknown;
        try {
          value = await job.decode(r);
        } catch (e) {
          if (!deadLetterNow) throw failed(r.offset, 'decode failed', e);
          letter(r, 'decode', messageOf(e));
          continue;
        }
        input.push({ ...r, value: value as Buffer | null });
      } else input.push(r);
      raw.push(r);
    }
  }

  // A record whose outputs the sink would refuse is as poison as one on which `process` throws.
  const run = async (part: SourceRecord[]): Promise<unknown[]> => sinkOutputs(await job.process(part, context), job.sink);
  let outputs: unknown[];
  try {
    outputs = input.length === 0 && records.length > 0 ? [] : await run(input);
  } catch (e) {
    if (!deadLetterNow) {
      // Name the first poison record: re-run record by record up to the first that fails.
      for (let i = 0; i < input.length; i++) {
        try {
          await run([input[i] as SourceRecord]);
        } catch (single) {
          throw failed((input[i] as SourceRecord).offset, processFailure(single), single);
        }
      }
      throw new ProcessFailedError(
        `job '${context.job}' ${processFailure(e)} on ${where} chunk ${chunk} (no single record fails alone): ${messageOf(e)}`,
        { topic: context.topic, partition: context.partition, from: String(context.fromOffset), until: String(context.untilOffset) },
        e
      );
    }
    // Isolate: every record alone; the ones that fail are dead-lettered, the others' outputs commit.
    outputs = [];
    for (let i = 0; i < input.length; i++) {
      try {
        for (const o of await run([input[i] as SourceRecord])) outputs.push(o);
      } catch (single) {
        letter(raw[i] as SourceRecord, single instanceof InvalidOutputError ? 'output' : 'process', messageOf(single));
      }
    }
  }
  if (poison.length > 0) {
    poison.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
    context.logger.warn(
      { deadLettered: poison.length, offsets: poison.slice(0, 10).map((p) => p.offset) },
      'poison records sent to the dead-letter queue'
    );
    await settings.deadLetter(poison);
  }
  return { outputs, deadLettered: poison.length };
}
