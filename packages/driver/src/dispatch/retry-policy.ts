import { isDependencyOutage, isPeerUnreachable, type SluiceError } from '@sluice/common';

/**
 * What a failed attempt says about its task:
 * - `fenced`: another driver owns the job; no attempt of this batch could commit, so it ends here.
 * - `outage`: Kafka or Redis could not be reached; retried (with growing backoff) until they answer.
 * - `executor-gone`: the executor was unreachable or is shutting down; the task goes elsewhere.
 * - `task`: the task's own failure; these count against `maxTaskFailures`.
 */
export type FailureKind = 'fenced' | 'outage' | 'executor-gone' | 'task';

export interface RetrySettings {
  /** Failures of the task's own account after which it is given up (Spark's `spark.task.maxFailures`). */
  maxTaskFailures: number;
  retryBackoffMs: number;
}

/** Longest wait between attempts while Kafka or Redis is down. */
export const MAX_OUTAGE_BACKOFF_MS = 5000;

/**
 * Which failures count against `maxTaskFailures` and how long to wait before the next attempt.
 * A lost executor and Kafka or Redis being down do not count (as Spark does not count executor
 * loss): only a failure of the task itself does.
 */
export class RetryPolicy {
  constructor(private readonly settings: RetrySettings) {}

  classify(error: SluiceError): FailureKind {
    if (error.code === 'SLUICE_FENCED') return 'fenced';
    if (isDependencyOutage(error)) return 'outage';
    if (isPeerUnreachable(error) || error.code === 'SLUICE_EXECUTOR_LOST') return 'executor-gone';
    return 'task';
  }

  /** True when the failure counts against `maxTaskFailures`. */
  counts(error: SluiceError): boolean {
    return this.classify(error) === 'task';
  }

  /** True when no further attempt follows `error`, the task having failed `failures` times on its own account. */
  givesUp(error: SluiceError, failures: number): boolean {
    return !error.retriable || failures >= this.settings.maxTaskFailures;
  }

  /**
   * The wait before the next attempt: during an outage it doubles with each one (`outages` before
   * this), up to {@link MAX_OUTAGE_BACKOFF_MS}; otherwise it grows linearly with the task's failures.
   */
  backoffMs(kind: FailureKind, failures: number, outages: number): number {
    const base = this.settings.retryBackoffMs;
    return kind === 'outage' ? Math.min(MAX_OUTAGE_BACKOFF_MS, base * 2 ** outages) : base * Math.max(1, failures);
  }
}
