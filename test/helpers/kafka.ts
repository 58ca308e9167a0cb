import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin, type ITopicConfig, type Producer } from 'kafkajs';
import { brokers, repoRoot } from './env';
import { waitFor } from './wait-for';

const run = promisify(execFile);

export function kafka(): Kafka {
  return new Kafka({ clientId: 'sluice-tests', brokers: brokers().split(','), logLevel: logLevel.NOTHING });
}

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Notes a topic this test run created, for the global teardown to delete: a local broker that kept
 * every run's topics (tens of thousands of partitions) would start slowly and answer slowly.
 */
export function recordTestTopic(topic: string): void {
  const file = process.env.SLUICE_TEST_TOPICS_FILE;
  if (file) appendFileSync(file, `${topic}\n`);
}

export async function createTopic(topic: string, numPartitions: number, configEntries: ITopicConfig['configEntries'] = []): Promise<void> {
  recordTestTopic(topic);
  await withAdmin(async (admin) => {
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }], waitForLeaders: true });
    } catch (e) {
      // A busy (or just started) Kafka 4 can answer kafkajs's leader check with
      // UNKNOWN_TOPIC_OR_PARTITION before the new topic reaches its metadata cache, and kafkajs
      // does not retry that: the topic exists, so wait for its leaders here.
      if (!isUnknownTopic(e)) throw e;
      await waitFor(
        async () => {
          const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
          return metadata?.partitions.length === numPartitions && metadata.partitions.every((p) => p.leader >= 0);
        },
        { label: `leaders of the new topic ${topic}` }
      );
    }
  });
}

function isUnknownTopic(e: unknown): boolean {
  const error = e as { type?: string; cause?: { type?: string } };
  return error.type === 'UNKNOWN_TOPIC_OR_PARTITION' || error.cause?.type === 'UNKNOWN_TOPIC_OR_PARTITION';
}

export async function withProducer<T>(fn: (producer: Producer) => Promise<T>, options: Parameters<Kafka['producer']>[0] = {}): Promise<T> {
  const producer = kafka().producer({ allowAutoTopicCreation: false, ...options });
  await producer.connect();
  try {
    return await fn(producer);
  } finally {
    await producer.disconnect();
  }
}

/** Produces `values` to one partition, in order. */
export async function produceToPartition(topic: string, partition: number, values: string[]): Promise<void> {
  await withProducer((producer) => producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition })) }));
}

/** Produces `values` spread round-robin over `partitions`, in batches. */
export async function produceValues(topic: string, values: string[], partitions: number): Promise<void> {
  await withProducer(async (producer) => {
    const perCall = 10_000;
    for (let start = 0; start < values.length; start += perCall) {
      const slice = values.slice(start, start + perCall);
      await producer.send({ topic, acks: -1, messages: slice.map((value, i) => ({ value, partition: (start + i) % partitions })) });
    }
  });
}

/** End offsets (next offset to be written) per `topic:partition`, read by kafkajs's admin (LSO). */
export async function endOffsets(topic: string): Promise<Record<string, string>> {
  const offsets = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
  return Object.fromEntries(offsets.map((o) => [`${topic}:${o.partition}`, o.offset]));
}

/** A consumer group's committed offsets of `topic` per `topic:partition`, read by kafkajs's admin (fast to poll). */
export async function committedOffsets(group: string, topic: string): Promise<Record<string, string>> {
  const [offsets] = await withAdmin((admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  return Object.fromEntries((offsets?.partitions ?? []).map((p) => [`${topic}:${p.partition}`, p.offset]));
}

/** Kafka's own CLI tools, from the same jars as the broker. */
export async function kafkaCli(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'deploy', 'local', 'kafka.sh'), ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Every value of a topic as kcat (librdkafka, a third-party client) reads it under read_committed. */
export async function kcatValues(topic: string, bootstrap = brokers()): Promise<string[]> {
  const { stdout } = await run(
    'kcat',
    ['-b', bootstrap, '-C', '-t', topic, '-e', '-q', '-f', '%s\\n', '-X', 'isolation.level=read_committed'],
    { maxBuffer: 256 * 1024 * 1024 }
  );
  return stdout.split('\n').filter((line) => line !== '');
}

/**
 * Every value of a topic as Kafka's own Java console consumer reads it under read_committed: from
 * the beginning until `expected` records came (a duplicate among them leaves an id missing) or none
 * came for `idleMs`.
 */
export async function consoleConsumerValues(topic: string, bootstrap = brokers(), expected?: number, idleMs = 8000): Promise<string[]> {
  const out = await kafkaCli(
    'console-consumer',
    ...['--bootstrap-server', bootstrap, '--topic', topic, '--from-beginning', '--isolation-level', 'read_committed'],
    ...['--timeout-ms', String(idleMs), ...(expected === undefined ? [] : ['--max-messages', String(expected)])]
  );
  return out.split('\n').filter((line) => line !== '');
}

/** CURRENT-OFFSET per `topic:partition` of a consumer group, from Kafka's `kafka-consumer-groups --describe`. */
export async function groupOffsets(group: string, bootstrap = brokers()): Promise<Record<string, string>> {
  const text = await kafkaCli('groups', '--bootstrap-server', bootstrap, '--describe', '--group', group);
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === group && /^\d+$/.test(cols[2] ?? '')) out[`${cols[1]}:${cols[2]}`] = cols[3] as string;
  }
  return out;
}

/** How often each produced value appears among `seen`: records, distinct, duplicated values, produced values missing. */
export function tally(seen: string[], produced: string[]): { records: number; distinct: number; duplicates: number; lost: number } {
  const counts = new Map<string, number>();
  for (const v of seen) counts.set(v, (counts.get(v) ?? 0) + 1);
  return {
    records: seen.length,
    distinct: counts.size,
    duplicates: [...counts.values()].filter((n) => n > 1).length,
    lost: produced.filter((v) => !counts.has(v)).length,
  };
}
