// @ts-check
/**
 * The audit job into Kafka: each input record's value, once, to the topic KAFKA_AUDIT_OUT, through
 * kafkaSink (its offsets in the consumer group `sluice-<job>`, in the same transactions).
 * KAFKA_AUDIT_TXN_TIMEOUT_MS sets the sink's transactionTimeoutMs.
 *
 * Fault points for the tests, each a real signal to this process at a fixed point of a commit:
 * - KAFKA_AUDIT_KILL_AFTER_COMMIT=1: SIGKILL right after the first Kafka commit, before the Redis checkpoint moves;
 * - KAFKA_AUDIT_STOP_IN_TXN=1: SIGSTOP inside the first transaction, after its records and offsets
 *   were sent and before it commits (a zombie whose transaction stays open until SIGCONT). kafkajs
 *   producers are plain objects, so the hook wraps the client's `producer` factory.
 */
const { Kafka } = require('kafkajs');
const { killedAfterCommit } = require('./fault-points');
const { defineJob, kafkaSink } = require('@sluice/common');

const out = process.env.KAFKA_AUDIT_OUT;
if (!out) throw new Error('KAFKA_AUDIT_OUT must name the output topic');

if (process.env.KAFKA_AUDIT_STOP_IN_TXN === '1') {
  let stopped = false;
  const producer = Kafka.prototype.producer;
  Kafka.prototype.producer = function (...args) {
    const p = producer.apply(this, args);
    const transaction = p.transaction;
    p.transaction = async () => {
      const tx = await transaction();
      const commit = tx.commit;
      tx.commit = async () => {
        if (!stopped) {
          stopped = true;
          process.kill(process.pid, 'SIGSTOP');
        }
        return commit();
      };
      return tx;
    };
    return p;
  };
}

const sink = kafkaSink({ topic: out, transactionTimeoutMs: Number(process.env.KAFKA_AUDIT_TXN_TIMEOUT_MS || 600_000) });

module.exports = defineJob({
  name: 'kafka-audit',
  source: { topics: ['audit'], startingOffsets: 'earliest' },
  process: (records) => records.map((record) => ({ key: record.key, value: record.value })),
  sink: process.env.KAFKA_AUDIT_KILL_AFTER_COMMIT === '1' ? killedAfterCommit(sink) : sink,
});
