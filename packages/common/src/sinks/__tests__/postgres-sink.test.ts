import { postgresSink, type PostgresSinkOptions } from '../postgres-sink';

const write = (): void => undefined;

describe('postgresSink options', () => {
  it.each<[string, unknown, string]>([
    [
      'a URL of another scheme',
      { connectionString: 'mysql://db/x', write },
      "'connectionString' must be a postgres:// or postgresql:// URL",
    ],
    ['a schema that is no plain identifier', { schema: 'My-Schema', write }, "'schema' must be a lower-case SQL identifier"],
    [
      'a schema Postgres reserves',
      { schema: 'pg_sink', write },
      "'schema' must not start with pg_ (reserved by Postgres for system schemas)",
    ],
    ['no write function', { connectionString: 'postgres://db/x' }, "'write' must be a function (client, outputs, context)"],
    ['a timeout that is no positive integer', { idleInTransactionTimeoutMs: 0, write }, "'idleInTransactionTimeoutMs' Too small"],
    ['an unknown key', { connectionString: 'postgres://db/x', table: 'x', write }, 'unknown key(s) table'],
  ])('refuses %s with SLUICE_JOB_INVALID naming the key, when the job module loads', (_, options, problem) => {
    expect(() => postgresSink(options as PostgresSinkOptions<unknown>)).toThrow(
      `[SLUICE_JOB_INVALID] postgresSink: invalid options: ${problem}`
    );
  });

  it('is an exactly-once sink that keeps its offsets itself, and connects only when first used', async () => {
    const sink = postgresSink({ connectionString: 'postgres://nobody@127.0.0.1:1/none', write });
    expect([sink.kind, sink.guarantee, typeof sink.committedOffsets, typeof sink.close]).toEqual([
      'postgres',
      'exactly-once',
      'function',
      'function',
    ]);
    await sink.close?.();
  });
});
