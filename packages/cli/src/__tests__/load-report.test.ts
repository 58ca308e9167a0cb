import { formatReport, percentiles, recordValue, tallyIds, type LoadReport } from '../load-report';

describe('sluice load report', () => {
  it('record values carry the id and production time and are padded to the size asked', () => {
    const v = recordValue('r1', 42, 1767261600000, 100);
    expect(Buffer.byteLength(v)).toBe(100);
    expect(JSON.parse(v)).toMatchObject({ id: 'r1:42', ts: 1767261600000 });
    expect(recordValue('r1', 42, 1767261600000, 10)).toBe('{"id":"r1:42","ts":1767261600000}');
  });

  it('tallies missing, duplicated and unexpected ids; ids whose produce failed are not expected', () => {
    const counts: Array<[string, number]> = [
      ['0', 1],
      ['1', 3],
      ['3', 1],
      ['7', 1],
      ['x', 1],
      ['05', 1],
    ];
    expect(tallyIds(counts, 5, new Set([4]))).toEqual({
      committed: 3,
      missing: 1,
      duplicates: 1,
      extraDeliveries: 2,
      unexpected: 3,
      missingIds: [2],
      duplicateIds: [1],
    });
  });

  it('nearest-rank percentiles of the latency histogram', () => {
    const histogram: Array<[string, number]> = [
      ['10', 50],
      ['20', 40],
      ['30', 9],
      ['1230', 1],
    ];
    expect(percentiles(histogram)).toEqual({ samples: 100, p50: 10, p90: 20, p99: 30, max: 1230 });
    expect(percentiles([])).toBeNull();
  });

  it('prints a table a person reads', () => {
    const report: LoadReport = {
      run: 'r1',
      job: 'load',
      topic: 'load',
      partitions: 8,
      produced: 2500,
      produceErrors: 0,
      targetRate: 500,
      achievedRate: 499.6,
      producedSeconds: 5.004,
      valueBytes: 100,
      drained: true,
      drainMs: 310,
      throughput: 470.25,
      latencyMs: { samples: 2500, p50: 260, p90: 470, p99: 520, max: 540 },
      committed: 2500,
      duplicates: 0,
      extraDeliveries: 0,
      missing: 0,
      unexpected: 0,
      missingIds: [],
      duplicateIds: [],
      ok: true,
    };
    expect(formatReport(report).split('\n')).toEqual([
      'run             r1',
      'job             load (Redis keys sluice:{load}:out:load:r1:*)',
      'topic           load (8 partitions)',
      'produced        2,500 records in 5.00 s, 100 bytes each',
      'rate            499.6 records/s achieved (target 500)',
      'job throughput  470.3 records/s (first produced to last committed)',
      'drain           310 ms (last produced to last committed)',
      'latency         p50 260 ms, p90 470 ms, p99 520 ms, max 540 ms (2,500 records, production to commit)',
      'committed       2,500 distinct ids of 2,500',
      'duplicates      0',
      'missing         0',
      'result          OK: every record committed exactly once',
    ]);
  });
});
