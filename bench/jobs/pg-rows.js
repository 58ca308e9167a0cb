// @ts-check
/**
 * Bench job "pg-rows": one row per record, (topic, partition, offset, value), into the table
 * `bench_rows` of schema BENCH_PG_SCHEMA at SLUICE_PG_URL, one INSERT per chunk, through
 * BENCH_PG_SINK: `postgres` (postgresSink, exactly-once: rows and offset in one transaction) or
 * `idempotent` (idempotentSink, at-least-once: the same INSERT, made idempotent by the primary key
 * and ON CONFLICT DO NOTHING, on a pool of its own, then the Redis commit).
 */
const { Pool } = require('pg');
const { defineJob, idempotentSink, postgresSink } = require('@sluice/common');

const schema = process.env.BENCH_PG_SCHEMA || 'bench';
const connectionString = process.env.SLUICE_PG_URL;
const table = `"${schema}".bench_rows`;
const createTable = `CREATE TABLE IF NOT EXISTS ${table} (topic text, partition int, "offset" bigint, value bytea, PRIMARY KEY (topic, partition, "offset"))`;

/** @param {{ query: (text: string, values: unknown[]) => Promise<unknown> }} client @param {Array<[string, Buffer | null]>} rows @param {{ topic: string, partition: number }} context */
const insert = (client, rows, context) =>
  client.query(
    `INSERT INTO ${table} (topic, partition, "offset", value) SELECT $1, $2, * FROM unnest($3::bigint[], $4::bytea[]) ON CONFLICT DO NOTHING`,
    [context.topic, context.partition, rows.map((r) => r[0]), rows.map((r) => r[1])]
  );

function sink() {
  if (process.env.BENCH_PG_SINK === 'idempotent') {
    const pool = new Pool({ connectionString });
    let ready;
    return idempotentSink({
      write: async (rows, context) => {
        ready ??= pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).then(() => pool.query(createTable));
        await ready;
        await insert(pool, rows, context);
      },
    });
  }
  return postgresSink({
    connectionString,
    schema,
    setup: (client) => client.query(createTable).then(() => undefined),
    write: (client, rows, context) => insert(client, rows, context).then(() => undefined),
  });
}

module.exports = defineJob({
  name: 'bench-pg-rows',
  source: { topics: ['bench'], startingOffsets: 'earliest' },
  process: (records) => records.map((r) => [String(r.offset), r.value]),
  sink: sink(),
});
