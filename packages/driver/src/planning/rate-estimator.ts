/**
 * Backpressure as Spark Streaming does it: a PID controller that, after each completed batch,
 * estimates the stream-wide rate (records/s) the job can process, so that processing time stays
 * near the batch interval. Same formula and defaults as Spark's `PIDRateEstimator`
 * (proportional 1.0, integral 0.2, derivative 0.0, minRate 100).
 */
export interface PidSettings {
  batchIntervalMs: number;
  proportional: number;
  integral: number;
  derivative: number;
  /** Floor of the estimate, records/s. */
  minRate: number;
}

export const defaultPidSettings: Omit<PidSettings, 'batchIntervalMs'> = { proportional: 1.0, integral: 0.2, derivative: 0.0, minRate: 100 };

export class PidRateEstimator {
  private firstRun = true;
  private latestTime = -1;
  private latestRate = -1;
  private latestError = -1;
  private published: number | undefined;

  constructor(private readonly settings: PidSettings) {}

  /** The current estimate in records/s; undefined until a second batch with records completed. */
  get rate(): number | undefined {
    return this.published;
  }

  /**
   * Feeds one completed batch.
   * @param time batch time (ms); older or equal times are ignored
   * @param records records processed
   * @param processingMs processing time of the batch
   * @param schedulingDelayMs how long the batch waited for the previous one
   * @returns the new estimate, or undefined when the batch carries no information
   */
  compute(time: number, records: number, processingMs: number, schedulingDelayMs: number): number | undefined {
    if (!(time > this.latestTime && records > 0 && processingMs > 0)) return undefined;
    const { proportional, integral, derivative, minRate, batchIntervalMs } = this.settings;
    const delaySinceUpdate = (time - this.latestTime) / 1000;
    const processingRate = (records / processingMs) * 1000;
    const error = this.latestRate - processingRate;
    // The backlog the scheduling delay stands for, expressed as a rate.
    const historicalError = (schedulingDelayMs * processingRate) / batchIntervalMs;
    const dError = (error - this.latestError) / delaySinceUpdate;
    const newRate = Math.max(this.latestRate - proportional * error - integral * historicalError - derivative * dError, minRate);
    this.latestTime = time;
    if (this.firstRun) {
      this.latestRate = processingRate;
      this.latestError = 0;
      this.firstRun = false;
      return undefined;
    }
    this.latestRate = newRate;
    this.latestError = error;
    this.published = newRate;
    return newRate;
  }
}
