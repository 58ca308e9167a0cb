// @ts-check
/**
 * The audit job into Postgres: one row per record (its value as `id`) in PG_AUDIT_SCHEMA.audit,
 * through postgresSink (whose own tables go to the same schema), at SLUICE_PG_URL.
 *
 * Fault points for the tests, each a real signal to this process at a fixed point of a commit:
 * - PG_AUDIT_KILL_AFTER_COMMIT=1: SIGKILL right after the Postgres COMMIT, before the Redis checkpoint moves;
 * - PG_AUDIT_STOP_IN_WRITE=1: SIGSTOP inside the first transaction, after the rows are inserted
 *   and before the offset moves (a zombie holding its locks until SIGCONT).
 * PG_AUDIT_IDLE_TIMEOUT_MS sets the sink's idleInTransactionTimeoutMs.
 */
const { killedAfterCommit } = require('./fault-points');
const { defineJob, postgresSink } = require('@sluice/common');

const schema = process.env.PG_AUDIT_SCHEMA || 'sluice';
let stopped = false;

const sink = postgresSink({
  connectionString: process.env.SLUICE_PG_URL,
  schema,
  idleInTransactionTimeoutMs: Number(process.env.PG_AUDIT_IDLE_TIMEOUT_MS || 10_000),
  setup: async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS "${schema}".audit (id text NOT NULL, topic text, partition int, batch bigint)`);
  },
  async write(client, ids, context) {
    await client.query(`INSERT INTO "${schema}".audit (id, topic, partition, batch) SELECT unnest($1::text[]), $2, $3, $4`, [
      ids,
      context.topic,
      context.partition,
      context.batchId,
    ]);
    if (process.env.PG_AUDIT_STOP_IN_WRITE === '1' && !stopped) {
      stopped = true;
      process.kill(process.pid, 'SIGSTOP');
    }
  },
});

module.exports = defineJob({
  name: 'pg-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  process: (records) => records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8'))),
  sink: process.env.PG_AUDIT_KILL_AFTER_COMMIT === '1' ? killedAfterCommit(sink) : sink,
});
