// @ts-check
/**
 * Produces sample text lines for the word-count example: `node produce-sample.js [topic] [lines]`.
 * Uses KAFKA_BROKERS (default 127.0.0.1:9092) and creates the topic (4 partitions) if it is missing.
 */
const { Kafka, logLevel } = require('kafkajs');

const text = `A gate that lets a stream through in measured amounts is the whole idea of sluice
Every batch is planned as one offset range per partition and every range is read exactly once
The driver writes the plan before it sends a task so a crash replays the same ranges
Executors commit output and offsets together so every record takes effect exactly once`.split('\n');

async function main() {
  const topic = process.argv[2] || 'lines';
  const count = Number(process.argv[3] || 20000);
  const kafka = new Kafka({
    clientId: 'sluice-demo',
    brokers: (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let sent = 0; sent < count; sent += 5000) {
    const n = Math.min(5000, count - sent);
    await producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ value: text[(sent + i) % text.length] })) });
  }
  await producer.disconnect();
  process.stderr.write(`produced ${count} lines to ${topic}\n`);
}

main().catch((e) => {
  process.stderr.write(`produce-sample: ${e.message}\n`);
  process.exit(1);
});
