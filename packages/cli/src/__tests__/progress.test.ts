import type { BatchEvent } from '@sluice/driver';
import { BatchReporter, describeProgress } from '../progress';

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

describe('BatchReporter', () => {
  const summary = {
    id: 3,
    epoch: '1',
    time: 0,
    records: 300,
    bytes: 0,
    schedulingDelayMs: 0,
    planMs: 4,
    processingMs: 9,
    totalDelayMs: 13,
    ranges: [],
  };
  const event = (progress?: { done: number; total: number }): BatchEvent => ({ summary, commitMs: 1, replayed: false, tasks: 2, progress });

  function written(isTTY: boolean, events: BatchEvent[]): string[] {
    const writes: string[] = [];
    const reporter = new BatchReporter({
      isTTY,
      write: (chunk: string | Uint8Array) => {
        writes.push(String(chunk));
        return true;
      },
    });
    events.forEach((e) => reporter.report(e));
    return writes;
  }

  it('on a terminal, ends every write with a newline: the bar is a line of its own under the batch line', () => {
    const writes = written(true, [event({ done: 300, total: 3000 }), event({ done: 3000, total: 3000 })]);
    expect(writes.every((w) => w.endsWith('\n'))).toBe(true);
    expect(writes.join('')).not.toContain('\r');
    expect(writes.join('')).not.toContain('\u001b');
    expect(writes.join('').split('\n')).toEqual([
      'batch 3: 300 records, 2 tasks, scheduling delay 0 ms, processing time 9 ms (plan 4 ms, commit 1 ms)',
      expect.stringMatching(/^\[###\.{27}\] 300\/3,000 records \(10%\), /),
      'batch 3: 300 records, 2 tasks, scheduling delay 0 ms, processing time 9 ms (plan 4 ms, commit 1 ms)',
      expect.stringMatching(/^\[#{30}\] 3,000\/3,000 records \(100%\), /),
      '',
    ]);
  });

  it('elsewhere, appends the progress to the batch line', () => {
    expect(written(false, [event({ done: 300, total: 3000 })])).toEqual([
      expect.stringMatching(/^batch 3: 300 records, .* \| 300\/3,000 records \(10%\), .*\n$/),
    ]);
    expect(written(false, [event()])).toEqual([
      'batch 3: 300 records, 2 tasks, scheduling delay 0 ms, processing time 9 ms (plan 4 ms, commit 1 ms)\n',
    ]);
  });
});
