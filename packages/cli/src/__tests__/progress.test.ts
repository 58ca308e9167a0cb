import { describeProgress } from '../progress';

describe('describeProgress', () => {
  it('gives done of total, percentage, rate and ETA', () => {
    expect(describeProgress({ done: 12_000, total: 20_000 }, 3000)).toEqual({
      fraction: 0.6,
      text: '12,000/20,000 records (60%), 4,000 records/s, ETA 2 s',
    });
  });

  it('has no ETA before any record and is complete for an empty run', () => {
    expect(describeProgress({ done: 0, total: 10 }, 1000).text).toBe('0/10 records (0%), 0 records/s, ETA ?');
    expect(describeProgress({ done: 0, total: 0 }, 1000).fraction).toBe(1);
  });
});
