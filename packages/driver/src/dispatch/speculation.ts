/** Spark's speculation settings (`spark.speculation.*`, current defaults). */
export interface SpeculationSettings {
  /** A task is a straggler once it runs this many times the median duration of the finished ones. */
  multiplier: number;
  /** Fraction of a batch's tasks that must have finished before any is speculated. */
  quantile: number;
  /** Tasks running less than this are never speculated. */
  minRuntimeMs: number;
  /** How often the running tasks are checked. */
  intervalMs: number;
}

/**
 * Spark's straggler rule (TaskSetManager.checkSpeculatableTasks): once at least
 * `max(floor(quantile × total), 1)` tasks have finished, a task running longer than
 * `max(multiplier × median finished duration, minRuntimeMs)` is speculated.
 * @returns the indexes into `runningMs` of the stragglers.
 */
export function stragglers(
  finishedMs: readonly number[],
  total: number,
  runningMs: readonly number[],
  settings: SpeculationSettings
): number[] {
  const needed = Math.max(Math.floor(settings.quantile * total), 1);
  if (finishedMs.length < needed) return [];
  const sorted = [...finishedMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const threshold = Math.max(settings.multiplier * median, settings.minRuntimeMs);
  return runningMs.flatMap((ms, index) => (ms > threshold ? [index] : []));
}

/** A running task the monitor may ask to run a copy of, once. */
export interface Speculatable {
  /** Starts the copy on another executor; false when there is none to run it on. */
  speculate(): boolean;
}

/**
 * Watches the tasks of one batch and launches a copy of each straggler (at most one per task).
 * The first copy to commit wins; the other finds the offset moved and changes nothing.
 */
export class SpeculationMonitor {
  private readonly finishedMs: number[] = [];
  private readonly running = new Map<Speculatable, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly total: number,
    private readonly settings: SpeculationSettings,
    private readonly now: () => number = () => performance.now()
  ) {
    this.timer = setInterval(() => this.check(), settings.intervalMs);
    this.timer.unref();
  }

  /** Registers a task as running from now; returns the function to call when it has finished. */
  track(task: Speculatable): (succeeded: boolean) => void {
    const startedAt = this.now();
    this.running.set(task, startedAt);
    return (succeeded) => {
      if (!this.running.delete(task)) return;
      if (succeeded) this.finishedMs.push(this.now() - startedAt);
    };
  }

  check(): void {
    const tasks = [...this.running];
    const now = this.now();
    for (const index of stragglers(
      this.finishedMs,
      this.total,
      tasks.map(([, startedAt]) => now - startedAt),
      this.settings
    )) {
      const [task] = tasks[index] as [Speculatable, number];
      // Asked once: a task whose copy could not be placed is left to finish on its own.
      this.running.delete(task);
      task.speculate();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
