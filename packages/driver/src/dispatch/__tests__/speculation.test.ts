import { SpeculationMonitor, stragglers, type SpeculationSettings } from '../speculation';

const spark: SpeculationSettings = { multiplier: 3, quantile: 0.9, minRuntimeMs: 100, intervalMs: 100 };

describe('stragglers (Spark speculation rule)', () => {
  it('waits until floor(quantile × total) tasks have finished', () => {
    expect(stragglers([100, 100, 100, 100, 100, 100, 100, 100], 10, [5000], spark)).toEqual([]);
    expect(stragglers([100, 100, 100, 100, 100, 100, 100, 100, 100], 10, [5000], spark)).toEqual([0]);
  });

  it('speculates tasks running longer than multiplier × the median finished duration', () => {
    const finished = [200, 210, 220, 230, 240, 250, 260, 270, 280];
    // median 240 → threshold 720
    expect(stragglers(finished, 10, [700, 721, 5000], spark)).toEqual([1, 2]);
  });

  it('never speculates tasks shorter than minRuntimeMs', () => {
    expect(stragglers([1, 1, 1, 1, 1, 1, 1, 1, 1], 10, [50, 150], spark)).toEqual([1]);
  });

  it('needs at least one finished task even for a single-task batch', () => {
    expect(stragglers([], 1, [10_000], spark)).toEqual([]);
  });
});

describe('SpeculationMonitor', () => {
  it('asks each straggler once, and ignores tasks that finished', () => {
    let now = 0;
    const monitor = new SpeculationMonitor(3, { ...spark, quantile: 0.5 }, () => now);
    const asked: string[] = [];
    const task = (name: string): { speculate: () => boolean } => ({ speculate: () => (asked.push(name), true) });
    const doneA = monitor.track(task('a'));
    monitor.track(task('b'));
    const doneC = monitor.track(task('c'));
    now = 100;
    doneA(true);
    now = 250;
    doneC(false); // failed attempts do not count as finished durations
    monitor.check();
    expect(asked).toEqual([]); // 250 <= max(3 × 100, 100)
    now = 401;
    monitor.check();
    monitor.check();
    expect(asked).toEqual(['b']);
    monitor.stop();
  });
});
