// @ts-check
/**
 * Baseline: what a Node user writes without sluice. A kafkajs consumer-group member (`eachBatch`)
 * doing the same work as the sluice job, at-least-once: per fetched batch it computes the outputs,
 * applies them to Redis (one pipelined HINCRBY per distinct field), then commits the offsets to
 * Kafka. Usage: node kafkajs-consumer.js <topic> <group> <passthrough|word-count> <redis key>
 *
 * It joins the group with the topic paused, so that no member reads anything before the harness
 * has seen the whole group settle; it starts consuming when it reads `go` on stdin. Lines on stdout
 * for the harness (times in ms since the epoch):
 *   assigned <ms> <partitions, comma-separated>   after every join (rebalance) of the group
 *   fetching <ms>                                 the first Fetch after `go` (or `go` itself, when
 *                                                 a Fetch begun just before it carried the records)
 *   committed <partition> <next offset> <ms>      after every batch whose offset commit succeeded
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
  const consumer = kafka.consumer({
    groupId,
    maxBytes: 16 << 20,
    maxBytesPerPartition: 4 << 20,
    readUncommitted: false,
    // While every partition is paused, kafkajs sleeps maxWaitTime between its polls: the default
    // 5 s would be a delay between `go` and the first Fetch. Only an idle consumer waits that long.
    maxWaitTimeInMs: 100,
    // A member learns of a rebalance from a heartbeat answer: the default 3 s would make the
    // group take seconds to settle once the second member joins.
    heartbeatInterval: 500,
  });
  const say = (line) => process.stdout.write(`${line}\n`);
  let started = false;
  let resumedAt = 0;
  let fetching = false;
  const firstFetch = (ms) => {
    if (!fetching) {
      fetching = true;
      say(`fetching ${ms}`);
    }
  };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    say(`assigned ${Date.now()} ${(payload.memberAssignment[topic] ?? []).join(',')}`);
  });
  consumer.on(consumer.events.FETCH_START, () => {
    if (started) firstFetch(Date.now());
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const running = consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (!started) return fatal(new Error('a batch was fetched before go'));
      // kafkajs checks for paused partitions after FETCH_START: a Fetch begun before `go` is sent after it.
      firstFetch(resumedAt);
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
      const next = (BigInt(lastOffset) + 1n).toString();
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      // Reported before the heartbeat: during a rebalance the heartbeat throws, and the batch is
      // committed all the same (it will not be fetched again).
      say(`committed ${batch.partition} ${next} ${Date.now()}`);
      await heartbeat();
    },
  });
  // run() has created the group member synchronously; it joins paused.
  consumer.pause([{ topic }]);
  await running;
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    if (!started && String(d).includes('go')) {
      started = true;
      resumedAt = Date.now();
      consumer.resume([{ topic }]);
    }
  });
  const stop = async () => {
    await consumer.disconnect().catch(() => undefined);
    redis.disconnect();
    process.exit(0);
  };
  // The harness stops it with SIGTERM; a harness that died closes stdin.
  process.stdin.on('end', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

/** Ends the process: kafkajs would otherwise retry the batch, or restart the consumer unpaused. */
function fatal(e) {
  process.stderr.write(`kafkajs-consumer: ${e.stack || e}\n`);
  process.exit(1);
}

main().catch(fatal);
