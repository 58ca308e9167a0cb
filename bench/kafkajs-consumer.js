// @ts-check
/**
 * Baseline: what a Node user writes without sluice. A kafkajs consumer-group member (`eachBatch`)
 * doing the same work as the sluice job, at-least-once: per fetched batch it computes the outputs,
 * applies them to Redis (one pipelined HINCRBY per distinct field), then commits the offsets to
 * Kafka. Usage: node kafkajs-consumer.js <topic> <group> <passthrough|word-count> <redis key>
 * Prints `progress <records> <group joined ms> <last commit ms>` after every batch, for the harness.
 */
const { Kafka, logLevel } = require('kafkajs');
const Redis = require('ioredis').default;

const [topic, groupId, work, outKey] = process.argv.slice(2);
const wordRe = /[^\p{L}\p{N}']+/u;

async function main() {
  const kafka = new Kafka({
    clientId: 'bench-kafkajs',
    brokers: (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(','),
    logLevel: logLevel.NOTHING,
  });
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const consumer = kafka.consumer({ groupId, maxBytes: 16 << 20, maxBytesPerPartition: 4 << 20, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let records = 0;
  let first = 0;
  let last = 0;
  // The clock starts when the group is joined (as sluice's starts at its first plan).
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (first === 0) first = Date.now();
  });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (batch.messages.length === 0) return;
      /** @type {Map<string, number>} */
      const sums = new Map();
      if (work === 'word-count') {
        for (const m of batch.messages) {
          if (m.value === null) continue;
          for (const w of m.value.toString('utf8').toLowerCase().split(wordRe)) {
            if (w !== '') sums.set(w, (sums.get(w) ?? 0) + 1);
          }
        }
      } else {
        sums.set('records', batch.messages.length);
      }
      const pipeline = redis.pipeline();
      for (const [field, by] of sums) pipeline.hincrby(outKey, field, by);
      await pipeline.exec();
      const lastOffset = batch.lastOffset();
      resolveOffset(lastOffset);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() }]);
      await heartbeat();
      records += batch.messages.length;
      last = Date.now();
      process.stdout.write(`progress ${records} ${first} ${last}\n`);
    },
  });
  const stop = async () => {
    await consumer.disconnect().catch(() => undefined);
    redis.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e) => {
  process.stderr.write(`kafkajs-consumer: ${e.stack || e}\n`);
  process.exit(1);
});
