import { defaultPidSettings, PidRateEstimator } from '../rate-estimator';

const estimator = (): PidRateEstimator => new PidRateEstimator({ ...defaultPidSettings, batchIntervalMs: 1000 });

describe('PidRateEstimator (Spark PIDRateEstimator)', () => {
  it('gives no estimate from the first batch, only remembers its processing rate', () => {
    const e = estimator();
    expect(e.compute(1000, 1000, 500, 0)).toBeUndefined();
    expect(e.rate).toBeUndefined();
  });

  it("follows Spark's formula: newRate = latestRate - Kp*error - Ki*historicalError - Kd*dError", () => {
    const e = estimator();
    e.compute(1000, 1000, 500, 0); // processing rate 2000/s
    // error = 2000 - 1000 = 1000; historical = 200 * 1000 / 1000 = 200; new = 2000 - 1000 - 0.2 * 200 = 960
    expect(e.compute(2000, 1000, 1000, 200)).toBeCloseTo(960, 6);
    expect(e.rate).toBeCloseTo(960, 6);
  });

  it('ignores batches without records, without processing time, or not newer than the last', () => {
    const e = estimator();
    e.compute(1000, 1000, 500, 0);
    expect(e.compute(2000, 0, 100, 0)).toBeUndefined();
    expect(e.compute(2000, 10, 0, 0)).toBeUndefined();
    expect(e.compute(1000, 10, 10, 0)).toBeUndefined();
  });

  it('never goes below minRate', () => {
    const e = estimator();
    e.compute(1000, 1000, 10, 0);
    expect(e.compute(2000, 10, 10_000, 100_000)).toBe(100);
  });

  it('converges on the rate at which processing takes one interval', () => {
    const e = estimator();
    // A job that processes 5,000 records/s; each batch reads `rate` records (1 s interval).
    let rate = 20_000;
    let time = 0;
    for (let i = 0; i < 30; i++) {
      const processingMs = (rate / 5000) * 1000;
      const schedulingDelayMs = Math.max(0, processingMs - 1000);
      time += 1000;
      rate = e.compute(time, rate, processingMs, schedulingDelayMs) ?? rate;
    }
    expect(rate).toBeGreaterThan(4500);
    expect(rate).toBeLessThan(5500);
  });
});
