// @ts-check
/**
 * Bench job "kafka-copy": each record's key and value, once, to the topic BENCH_KAFKA_OUT, through
 * BENCH_KAFKA_SINK: `kafka` (kafkaSink, exactly-once: records and the group offset in one
 * transaction per chunk) or `idempotent` (idempotentSink, at-least-once: the same records sent by
 * an idempotent kafkajs producer, acks=all, then the Redis commit).
 */
const { Kafka, logLevel, Partitioners } = require('kafkajs');
const { defineJob, idempotentSink, kafkaSink } = require('@sluice/common');

const topic = process.env.BENCH_KAFKA_OUT;
if (!topic) throw new Error('BENCH_KAFKA_OUT must name the output topic');

function sink() {
  if (process.env.BENCH_KAFKA_SINK === 'idempotent') {
    const kafka = new Kafka({ brokers: (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    let connected;
    return idempotentSink({
      write: async (messages) => {
        connected ??= producer.connect();
        await connected;
        if (messages.length > 0) await producer.send({ topic, acks: -1, messages });
      },
    });
  }
  return kafkaSink({ topic });
}

module.exports = defineJob({
  name: 'bench-kafka-copy',
  source: { topics: ['bench'], startingOffsets: 'earliest' },
  process: (records) => records.map((r) => ({ key: r.key, value: r.value })),
  sink: sink(),
});
