import { parseTarget, table } from '../operator';

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
