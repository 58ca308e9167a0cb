import { changeTable, formatStatus, parseTarget, type StatusReport } from '../operator';
import { table } from '../operator-tables';

describe('offsets --to', () => {
  it('accepts earliest, latest, a timestamp and JSON', () => {
    expect(parseTarget('earliest')).toEqual({ kind: 'earliest' });
    expect(parseTarget(' latest ')).toEqual({ kind: 'latest' });
    expect(parseTarget('1700000000000')).toEqual({ kind: 'timestamp', ms: 1700000000000 });
    expect(parseTarget('{"t":{"0":5,"1":"9007199254740993"}}')).toEqual({
      kind: 'explicit',
      offsets: new Map([
        ['t:0', 5n],
        ['t:1', 9007199254740993n],
      ]),
    });
  });

  it('rejects anything else with SLUICE_CONFIG_INVALID', () => {
    expect(() => parseTarget(undefined)).toThrow(/SLUICE_CONFIG_INVALID.*--to is required/);
    expect(() => parseTarget('yesterday')).toThrow(/SLUICE_CONFIG_INVALID/);
    expect(() => parseTarget('{"t":{"x":1}}')).toThrow(/not a partition number/);
    expect(() => parseTarget('{"t":{"0":-1}}')).toThrow(/non-negative integer/);
    expect(() => parseTarget('{}')).toThrow(/names no partition/);
  });
});

describe('table', () => {
  it('aligns text left and numbers right', () => {
    expect(
      table(
        ['TOPIC', 'LAG'],
        [
          ['a', 5],
          ['long-topic', 120],
        ]
      )
    ).toBe('TOPIC       LAG\na             5\nlong-topic  120');
  });
});

describe('offsets set|reset preview', () => {
  it('shows the current and the new offset of each partition', () => {
    const rows = [
      { topic: 'orders', partition: 0, committed: 120n, earliest: 0n, latest: 200n },
      { topic: 'orders', partition: 1, committed: undefined, earliest: 5n, latest: 90n },
    ];
    const updates = new Map([
      ['orders:0', 0n],
      ['orders:1', 5n],
    ]);
    expect(changeTable(rows, updates)).toBe(
      [
        'TOPIC   PARTITION  CURRENT  NEW  EARLIEST  LATEST',
        'orders          0  120        0         0     200',
        'orders          1  -          5         5      90',
      ].join('\n')
    );
  });
});

describe('status', () => {
  const report: StatusReport = {
    job: 'wc',
    keyPrefix: 'sluice:{wc}:',
    leader: null,
    epoch: '7',
    lastBatch: null,
    lastCommittedBatchId: 73,
    inFlight: { id: 74, epoch: '7' },
    totals: { batches: 73, records: 20000, bytes: 917843 },
    partitions: [{ topic: 'lines', partition: 0, committed: '5000', earliest: '0', latest: '5010', lag: '10' }],
    totalLag: '10',
  };

  it('prints the report as a screen of text', () => {
    expect(formatStatus(report, 0)).toBe(
      [
        'job          wc   (Redis keys sluice:{wc}:*)',
        'leader       none: no live driver',
        'epoch        7',
        'last batch   73',
        'in flight    batch 74 (planned by epoch 7)',
        'totals       73 batches, 20000 records, 917843 bytes',
        '',
        'TOPIC  PARTITION  COMMITTED  EARLIEST  LATEST  LAG',
        'lines          0       5000         0    5010   10',
        '',
        'total lag    10',
      ].join('\n')
    );
  });
});
