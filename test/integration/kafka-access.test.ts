/**
 * The kafkajs Kafka access layer against a real broker (KAFKA_BROKERS): exact range reads,
 * latest/earliest offsets, transactions, compaction holes, the monitoring commit, and failures.
 * Every test uses its own topics (random suffix); the broker does not auto-create topics.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';

import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import pino from 'pino';

import {
  createKafkajsGroupOffsetClient,
  createKafkajsOffsetOracle,
  createKafkajsRangeReader,
  isSluiceError,
  partitionKey,
  type KafkaClientConfig,
  type OffsetOracle,
  type OffsetRange,
  type RangeReader,
  type SourceRecord,
  type TopicPartition,
} from '@sluice/common';
// Internals of the kafkajs layer, tested against the broker directly.
import {
  createDirectCluster,
  partitionLeaders,
  READ_COMMITTED,
  setTargetTopics,
} from '../../packages/common/src/kafka/kafkajs/direct-cluster';
import { fetchUntil } from '../../packages/common/src/kafka/kafkajs/fetch-response';
import { recordTestTopic } from '../helpers/kafka';

/** What kafkajs's own `Broker.fetch` returns (the comparison in the decoder test). */
interface KafkajsFetchResponse {
  responses: Array<{
    partitions: Array<{
      partition: number;
      messages: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null }>;
    }>;
  }>;
}

jest.setTimeout(60_000);

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const logger = pino({ level: process.env['SLUICE_TEST_LOG'] ?? 'silent' });
const config: KafkaClientConfig = {
  brokers,
  clientId: 'it-kafka-access',
  isolation: 'read_committed',
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 10_000,
  fetchMaxBytes: 1 << 20,
  partitionMaxBytes: 1 << 20,
  fetchMaxWaitMs: 100,
  retries: 5,
};

const kafka = new Kafka({ brokers, clientId: 'it-kafka-access-admin', logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
let oracle: OffsetOracle;
let reader: RangeReader;
const fetches: Array<{ tp: string; offset: bigint }> = [];

const unique = (name: string): string => `it-ka-${name}-${randomBytes(4).toString('hex')}`;

async function createTopic(topic: string, numPartitions: number, configEntries: Record<string, string> = {}): Promise<void> {
  recordTestTopic(topic);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions,
        replicationFactor: 1,
        configEntries: Object.entries(configEntries).map(([name, value]) => ({ name, value })),
      },
    ],
  });
}

async function readRange(r: OffsetRange, rr: RangeReader = reader): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of rr.read(r)) out.push(...chunk);
  return out;
}

const range = (topic: string, partition: number, from: bigint | number, until: bigint | number): OffsetRange => ({
  topic,
  partition,
  fromOffset: BigInt(from),
  untilOffset: BigInt(until),
});

const offsetsOf = (records: SourceRecord[]): bigint[] => records.map((r) => r.offset);

/** Polls `probe` until it returns a value, or fails after `timeoutMs` (no fixed sleeps). */
async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

beforeAll(async () => {
  admin = kafka.admin();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([admin.connect(), producer.connect()]);
  oracle = await createKafkajsOffsetOracle(config, logger);
  reader = createKafkajsRangeReader(config, 2, logger, {
    onFetch: (tp, offset) => fetches.push({ tp: partitionKey(tp), offset }),
  });
});

afterAll(async () => {
  await Promise.allSettled([reader?.close(), oracle?.close(), producer?.disconnect(), admin?.disconnect()]);
});

describe('kafkajs access layer on a real broker', () => {
  it('lists partitions, latest/earliest offsets, and reads exact ranges of a multi-partition topic', async () => {
    const topic = unique('plain');
    await createTopic(topic, 3);
    for (let p = 0; p < 3; p++) {
      const n = 10 + p * 5; // 10, 15, 20 records
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          partition: p,
          key: `k${p}-${i}`,
          value: `v${p}-${i}`,
          headers: { h: [`a${i}`, `b${i}`] },
        })),
      });
    }

    const tps = await oracle.listPartitions([topic]);
    expect(tps).toEqual([0, 1, 2].map((partition) => ({ topic, partition })));
    const latest = await oracle.latestOffsets(tps);
    const { earliest } = await oracle.offsetBounds(tps);
    // Map order follows the broker's response order, which is not part of the contract.
    expect(Object.fromEntries(latest)).toEqual({ [`${topic}:0`]: 10n, [`${topic}:1`]: 15n, [`${topic}:2`]: 20n });
    expect([...earliest.values()]).toEqual([0n, 0n, 0n]);

    // Whole partitions, read concurrently (more reads than slots: they queue).
    const all = await Promise.all(tps.map((tp) => readRange(range(topic, tp.partition, 0, latest.get(partitionKey(tp)) ?? 0n))));
    all.forEach((records, p) => {
      expect(offsetsOf(records)).toEqual(Array.from({ length: 10 + p * 5 }, (_, i) => BigInt(i)));
      expect(records.every((r) => r.topic === topic && r.partition === p)).toBe(true);
    });
    const sample = all[2]?.[7];
    expect(sample?.key?.toString()).toBe('k2-7');
    expect(sample?.value?.toString()).toBe('v2-7');
    expect(sample?.headers.map((h) => `${h.key}=${h.value?.toString()}`)).toEqual(['h=a7', 'h=b7']);
    expect(typeof sample?.timestamp).toBe('bigint');

    // A range in the middle.
    expect(offsetsOf(await readRange(range(topic, 2, 5, 12)))).toEqual([5n, 6n, 7n, 8n, 9n, 10n, 11n]);

    // from == until: no fetch at all.
    const before = fetches.length;
    expect(await readRange(range(topic, 1, 7, 7))).toEqual([]);
    expect(await readRange(range(topic, 1, 15, 15))).toEqual([]);
    expect(fetches.length).toBe(before);
  });

  it('reports every missing topic with TopicNotFoundError and never auto-creates them', async () => {
    const present = unique('present');
    const missingA = unique('missing-a');
    const missingB = unique('missing-b');
    await createTopic(present, 1);

    const err = await oracle.listPartitions([present, missingA, missingB]).catch((e: unknown) => e);
    expect(isSluiceError(err) && err.code).toBe('SLUICE_TOPIC_NOT_FOUND');
    expect((err as { topics: string[] }).topics).toEqual([missingA, missingB]);

    const err2 = await oracle.latestOffsets([{ topic: missingA, partition: 0 }]).catch((e: unknown) => e);
    expect(isSluiceError(err2) && err2.code).toBe('SLUICE_TOPIC_NOT_FOUND');

    const topics = await admin.listTopics();
    expect(topics).toContain(present);
    expect(topics).not.toContain(missingA);
    expect(topics).not.toContain(missingB);

    // The oracle still works after a failed call (no sticky metadata for the missing topic).
    expect(await oracle.listPartitions([present])).toEqual([{ topic: present, partition: 0 }]);
  });

  it('readAll: small ranges of many partitions in one Fetch per round, the same records as read(); an unreadable range is left out', async () => {
    const topic = unique('read-all');
    await createTopic(topic, 6);
    for (let p = 0; p < 6; p++) {
      await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ partition: p, value: `v${p}-${i}` })) });
    }
    const ranges = [0, 1, 2, 3, 4].map((p) => range(topic, p, 1, 4));
    const empty = range(topic, 5, 2, 2);
    const beyondEnd = range(topic, 5, 3, 9); // only 5 records: offsets 5..8 are not visible
    const before = fetches.length;

    const read = await (reader.readAll as NonNullable<RangeReader['readAll']>)([...ranges, empty, beyondEnd]);
    const during = fetches.slice(before);

    expect([...read.keys()].sort()).toEqual([...ranges, empty].map(partitionKey).sort());
    for (const r of ranges) {
      const records = read.get(partitionKey(r)) ?? [];
      expect(records.map((x) => x.value?.toString())).toEqual([1, 2, 3].map((i) => `v${r.partition}-${i}`));
      expect(records).toEqual(await readRange(r));
    }
    expect(read.get(partitionKey(empty))).toEqual([]);
    // One round for the readable ranges: each of their partitions was fetched once, from its start.
    for (const r of ranges) expect(during.filter((f) => f.tp === partitionKey(r))).toEqual([{ tp: partitionKey(r), offset: 1n }]);
  });

  it('ranges read one record at a time from a backlog, then across a batch far larger than before: every record once, in order', async () => {
    // The reader sizes each partition's fetch to what is left of the range from the batches it has
    // seen; a batch far larger than those comes back cut (bytes, no batch) when its partition is
    // not the first of the response, and the read must ask again for everything, not skip it.
    const topic = unique('fetch-bytes');
    await createTopic(topic, 3);
    for (let b = 0; b < 8; b++) {
      await producer.send({ topic, messages: [0, 1, 2].map((partition) => ({ partition, value: `small-${b}` })) });
    }
    // One send per partition of 200 records of 1 KB: a batch of about 200 KB.
    const large = Array.from({ length: 200 }, (_, i) => `large-${i}-${'x'.repeat(1000)}`);
    for (const partition of [0, 1, 2]) await producer.send({ topic, messages: large.map((value) => ({ partition, value })) });
    const fetched: string[] = [];
    const rr = createKafkajsRangeReader(config, 1, logger, { onFetch: (tp, offset) => fetched.push(`${tp.partition}@${offset}`) });
    try {
      const readAll = (ranges: OffsetRange[]): Promise<Map<string, SourceRecord[]>> =>
        (rr.readAll as NonNullable<RangeReader['readAll']>).call(rr, ranges);
      const seen = new Map<number, string[]>([0, 1, 2].map((p) => [p, []]));
      const take = (read: Map<string, SourceRecord[]>, partition: number): void => {
        for (const r of read.get(`${topic}:${partition}`) ?? []) seen.get(partition)?.push(r.value?.toString() ?? '');
      };
      for (let o = 0; o < 8; o++) {
        const read = await readAll([0, 1, 2].map((p) => range(topic, p, o, o + 1)));
        for (const p of [0, 1, 2]) take(read, p);
      }
      // One fetch per partition and read: the small limits never cut a small batch.
      expect(fetched).toHaveLength(24);
      // Into the large batches: readAll may leave a cut range to read(), which reads it whole.
      const into = [0, 1, 2].map((p) => range(topic, p, 8, 10));
      fetched.length = 0;
      const read = await readAll(into);
      // The limits sized for one small batch cut the large ones (all but the response's first
      // partition, which Kafka always gives a whole batch): those were asked again.
      expect(fetched.length).toBeGreaterThan(3);
      for (const r of into) {
        if (read.has(partitionKey(r))) take(read, r.partition);
        else for (const x of await readRange(r, rr)) seen.get(r.partition)?.push(x.value?.toString() ?? '');
      }
      for (const p of [0, 1, 2]) {
        expect(seen.get(p)).toEqual([...Array.from({ length: 8 }, (_, b) => `small-${b}`), large[0], large[1]]);
      }
      // The rest of the large batches, in one read per partition.
      for (const p of [0, 1, 2]) expect(offsetsOf(await readRange(range(topic, p, 10, 208), rr))).toHaveLength(198);
    } finally {
      await rr.close();
    }
  });

  it('a Fetch for a range that ends early in a backlog decodes only the record batches up to its end', async () => {
    const topic = unique('decode-until');
    await createTopic(topic, 2);
    // 12 sends: 12 one-record batches in each partition (a backlog, as a rate-limited job sees it).
    for (let b = 0; b < 12; b++) {
      await producer.send({ topic, messages: [0, 1].map((partition) => ({ partition, value: `b${b}` })) });
    }
    const cluster = createDirectCluster(config, logger);
    await cluster.connect();
    try {
      setTargetTopics(cluster, [topic]);
      await cluster.refreshMetadata();
      const nodeId = partitionLeaders(cluster, topic).get(0) as string;
      const broker = await cluster.findBroker({ nodeId });
      const request = {
        isolationLevel: READ_COMMITTED,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{ topic, partitions: [0, 1].map((partition) => ({ partition, fetchOffset: '2', maxBytes: 1 << 20 })) }],
      };
      // kafkajs's own Fetch decodes every record the broker returned.
      const plain = (await (broker as unknown as { fetch(r: typeof request): Promise<KafkajsFetchResponse> }).fetch(request)).responses[0];
      const bounded = (
        await fetchUntil(
          broker,
          request,
          new Map([
            [`${topic}:0`, 5n],
            [`${topic}:1`, 100n],
          ])
        )
      ).responses[0];
      const ofPartition = <T extends { partition: number }>(list: T[] | undefined, partition: number): T | undefined =>
        list?.find((p) => p.partition === partition);
      const records = (partition: number) => ofPartition(bounded?.partitions, partition)?.batches.flatMap((b) => b.records) ?? [];
      // Partition 0 stops after offset 4: three batches decoded, not ten.
      expect(ofPartition(plain?.partitions, 0)?.messages).toHaveLength(10);
      expect(ofPartition(bounded?.partitions, 0)?.batches.map((b) => b.lastOffset)).toEqual([2n, 3n, 4n]);
      expect(records(0).map((r) => r.value?.toString())).toEqual(['b2', 'b3', 'b4']);
      // Partition 1 (range end beyond the log) holds the same records kafkajs decodes, field by field.
      expect(records(1).map((r) => [r.offset, r.timestamp, r.key, r.value?.toString(), r.headers])).toEqual(
        (ofPartition(plain?.partitions, 1)?.messages ?? []).map((m) => [
          BigInt(m.offset),
          BigInt(m.timestamp),
          m.key,
          m.value?.toString(),
          [],
        ])
      );
      expect(ofPartition(bounded?.partitions, 1)?.highWatermark).toBe(12n);
    } finally {
      await cluster.disconnect();
    }
  });

  it('transactions: aborted records are never delivered, latest = LSO, ranges ending after a marker finish', async () => {
    const topic = unique('txn');
    await createTopic(topic, 1);
    const txProducer = kafka.producer({
      transactionalId: unique('txid'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await txProducer.connect();
    const uncommittedOracle = await createKafkajsOffsetOracle({ ...config, isolation: 'read_uncommitted' }, logger);
    try {
      const send = async (values: string[], outcome: 'commit' | 'abort' | 'open') => {
        const tx = await txProducer.transaction();
        await tx.send({ topic, messages: values.map((value) => ({ partition: 0, value })) });
        if (outcome === 'commit') await tx.commit();
        if (outcome === 'abort') await tx.abort();
        return tx;
      };
      // Offsets: c0 c1 c2 COMMIT(3) a0 a1 ABORT(6) o0 o1 (open)
      await send(['c0', 'c1', 'c2'], 'commit');
      await send(['a0', 'a1'], 'abort');
      const tp: TopicPartition = { topic, partition: 0 };
      // Markers are written asynchronously after EndTxn returns: wait for the LSO to pass the abort marker.
      await eventually('LSO 7', 15_000, async () => ((await oracle.latestOffsets([tp])).get(partitionKey(tp)) === 7n ? true : undefined));
      const open = await send(['o0', 'o1'], 'open');
      try {
        await eventually('HWM 9', 15_000, async () =>
          (await uncommittedOracle.latestOffsets([tp])).get(partitionKey(tp)) === 9n ? true : undefined
        );
        // read_committed latest is the LSO (7), not the high watermark (9): the open transaction is undecided.
        expect((await oracle.latestOffsets([tp])).get(partitionKey(tp))).toBe(7n);

        const values = (records: SourceRecord[]): string[] => records.map((r) => r.value?.toString() ?? '');
        expect(values(await readRange(range(topic, 0, 0, 7)))).toEqual(['c0', 'c1', 'c2']);
        expect(offsetsOf(await readRange(range(topic, 0, 0, 4)))).toEqual([0n, 1n, 2n]); // ends right after COMMIT
        expect(offsetsOf(await readRange(range(topic, 0, 3, 7)))).toEqual([]); // marker + aborted + marker only
        expect(offsetsOf(await readRange(range(topic, 0, 4, 6)))).toEqual([]); // aborted records only
      } finally {
        await open.abort();
      }
    } finally {
      await Promise.allSettled([txProducer.disconnect(), uncommittedOracle.close()]);
    }
  });

  it('compacted topic: reads a range that spans holes and ends inside a hole', async () => {
    const topic = unique('compact');
    await createTopic(topic, 1, {
      'cleanup.policy': 'compact',
      'segment.ms': '100',
      'min.cleanable.dirty.ratio': '0.01',
      'min.compaction.lag.ms': '0',
      'delete.retention.ms': '100',
    });
    const tp: TopicPartition = { topic, partition: 0 };
    // Each round: a key of its own (survives compaction) and two shared keys (superseded by the next
    // round), so a compacted log keeps every third offset: holes between survivors.
    let round = 0;
    const produceRound = async (): Promise<void> => {
      await producer.send({
        topic,
        messages: [`own-${round}`, 'shared-a', 'shared-b'].map((key) => ({ partition: 0, key, value: `${key}@${round}` })),
      });
      round++;
    };
    for (let i = 0; i < 5; i++) await produceRound();

    // Poll until the cleaner made holes; keep producing so the active segment rolls and old ones get cleaned.
    const offsets = await eventually('compaction holes', 40_000, async () => {
      await produceRound();
      const bounds = await oracle.offsetBounds([tp]);
      const latest = bounds.latest.get(partitionKey(tp)) ?? 0n;
      const earliest = bounds.earliest.get(partitionKey(tp)) ?? 0n;
      const offs = offsetsOf(await readRange(range(topic, 0, earliest, latest)));
      const holes = offs.filter((o, i) => i > 0 && o !== (offs[i - 1] ?? o) + 1n).length;
      return holes >= 2 ? offs : undefined;
    });

    // The first hole [a+1, b) and a later record: read from the first offset up to a point inside a later hole.
    const gaps: Array<[bigint, bigint]> = [];
    offsets.forEach((o, i) => {
      const prev = offsets[i - 1];
      if (prev !== undefined && o > prev + 1n) gaps.push([prev + 1n, o]); // [holeStart, nextPresent)
    });
    const lastGap = gaps[gaps.length - 1];
    if (lastGap === undefined) throw new Error('no gap');
    const from = offsets[0] ?? 0n;
    const until = lastGap[1]; // offset until-1 is inside the hole
    expect(lastGap[1] - 1n).toBeGreaterThanOrEqual(lastGap[0]);
    const expected = offsets.filter((o) => o >= from && o < until);
    const got = await readRange(range(topic, 0, from, until));
    expect(offsetsOf(got)).toEqual(expected);
    expect(BigInt(got.length)).toBeLessThan(until - from); // holes were really skipped
    // A range entirely inside a hole.
    expect(await readRange(range(topic, 0, lastGap[0], lastGap[1]))).toEqual([]);
  });

  it('group offset client: the commit shows in kafka-consumer-groups --describe with CURRENT-OFFSET and LAG; fetch reads it', async () => {
    const topic = unique('group');
    const groupId = unique('monitor');
    await createTopic(topic, 2);
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `${i}` })) });
    const publisher = await createKafkajsGroupOffsetClient(config, logger);
    try {
      await publisher.commit(
        groupId,
        new Map([
          [`${topic}:0`, 3n],
          [`${topic}:1`, 5n],
        ])
      );
      // Idempotent re-publish (next batch) with a newer offset.
      await publisher.commit(groupId, new Map([[`${topic}:0`, 4n]]));
      const partitions = [0, 1].map((partition) => ({ topic, partition }));
      expect(await publisher.fetch(groupId, partitions)).toEqual(
        new Map([
          [`${topic}:0`, 4n],
          [`${topic}:1`, 5n],
        ])
      );
      // A group without offsets (or a partition without one) is left out.
      expect(await publisher.fetch(unique('nobody'), partitions)).toEqual(new Map());
    } finally {
      await publisher.close();
    }
    const groupOffsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(groupOffsets[0]?.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '4'],
      [1, '5'],
    ]);

    const repo = path.resolve(__dirname, '../..');
    const { stdout } = await promisify(execFile)(
      'bash',
      [path.join(repo, 'deploy/local/kafka.sh'), 'groups', '--bootstrap-server', brokers.join(','), '--describe', '--group', groupId],
      { timeout: 45_000 }
    );
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const header =
      lines
        .find((l) => l.includes('CURRENT-OFFSET'))
        ?.trim()
        .split(/\s+/) ?? [];
    const col = (name: string): number => header.indexOf(name);
    expect(col('LAG')).toBeGreaterThan(0);
    const rows = lines
      .map((l) => l.trim().split(/\s+/))
      .filter((cells) => cells[col('TOPIC')] === topic)
      .map((cells) => [cells[col('PARTITION')], cells[col('CURRENT-OFFSET')], cells[col('LAG')]])
      .sort();
    expect(rows).toEqual([
      ['0', '4', '1'],
      ['1', '5', '0'],
    ]);
  });

  it('offsetsForTimes: the first offset at or after a time, the latest offset after the last record', async () => {
    const topic = unique('times');
    await createTopic(topic, 3);
    const base = Date.now() - 10 * 60_000; // well inside the broker's accepted timestamp window
    const at = [0, 1000, 1000, 3000, 5000]; // ms after base, offsets 0..4 of partition 0
    await producer.send({
      topic,
      messages: at.map((dt, i) => ({ partition: 0, value: `t${i}`, timestamp: String(base + dt) })),
    });
    await producer.send({ topic, messages: [{ partition: 1, value: 'early', timestamp: String(base - 60_000) }] });
    const tps = [0, 1, 2].map((partition) => ({ topic, partition }));
    const key = (p: number): string => `${topic}:${p}`;
    const lookup = async (dt: number): Promise<Record<string, bigint>> =>
      Object.fromEntries(await oracle.offsetsForTimes(tps, BigInt(base + dt)));

    // Partition 1's only record is older than every time asked; partition 2 is empty: both give latest.
    expect(await lookup(-1)).toEqual({ [key(0)]: 0n, [key(1)]: 1n, [key(2)]: 0n });
    expect((await lookup(0))[key(0)]).toBe(0n);
    expect((await lookup(1))[key(0)]).toBe(1n);
    expect((await lookup(1000))[key(0)]).toBe(1n);
    expect((await lookup(1001))[key(0)]).toBe(3n);
    expect((await lookup(5000))[key(0)]).toBe(4n);
    // After the last record Kafka answers null; the oracle answers the latest offset.
    expect(await lookup(5001)).toEqual({ [key(0)]: 5n, [key(1)]: 1n, [key(2)]: 0n });
    expect((await oracle.offsetsForTimes([{ topic, partition: 1 }], BigInt(base - 120_000))).get(key(1))).toBe(0n);

    await expect(oracle.offsetsForTimes(tps, -1n)).rejects.toThrow(RangeError);
    const missing = unique('times-missing');
    const err = await oracle.offsetsForTimes([{ topic: missing, partition: 0 }], BigInt(base)).catch((e: unknown) => e);
    expect(isSluiceError(err) && err.code).toBe('SLUICE_TOPIC_NOT_FOUND');
  });

  it('listTopics: every non-internal topic, from fresh metadata on each call', async () => {
    const a = unique('list-a');
    const b = unique('list-b');
    await createTopic(a, 1);
    const first = await oracle.listTopics();
    expect(first).toContain(a);
    expect(first).not.toContain(b);
    expect(first).toEqual([...first].sort());
    // Internal topics (the group offsets topic exists once any group committed) are never listed.
    await createKafkajsGroupOffsetClient(config, logger).then(async (p) => {
      await p.commit(unique('list-group'), new Map([[`${a}:0`, 0n]]));
      await p.close();
    });
    expect(await admin.listTopics()).toContain('__consumer_offsets');
    expect(await oracle.listTopics()).not.toContain('__consumer_offsets');

    // A topic created after the last call shows up at once; a deleted one goes away.
    await createTopic(b, 2);
    expect(await oracle.listTopics()).toEqual(expect.arrayContaining([a, b]));
    await admin.deleteTopics({ topics: [a] });
    await eventually('deleted topic gone from listTopics', 30_000, async () =>
      (await oracle.listTopics()).includes(a) ? undefined : true
    );
    expect(await oracle.listTopics()).toContain(b);
  });

  it('listPartitions on a topic deleted since the last call fails promptly with TopicNotFoundError', async () => {
    const doomed = unique('doomed');
    const kept = unique('kept');
    await createTopic(doomed, 2);
    await createTopic(kept, 1);
    expect(await oracle.listPartitions([doomed, kept])).toHaveLength(3);
    expect((await oracle.latestOffsets([{ topic: doomed, partition: 0 }])).size).toBe(1);

    await admin.deleteTopics({ topics: [doomed] });
    // Deletion reaches the broker's metadata shortly after the admin call returns; each call that
    // sees it must fail at once (no retry loop over UNKNOWN_TOPIC_OR_PARTITION).
    const failure = await eventually('TopicNotFoundError for the deleted topic', 30_000, async () => {
      const started = Date.now();
      const err = await oracle.listPartitions([doomed, kept]).then(
        () => undefined,
        (e: unknown) => e
      );
      return err === undefined ? undefined : { err, ms: Date.now() - started };
    });
    expect(isSluiceError(failure.err) && failure.err.code).toBe('SLUICE_TOPIC_NOT_FOUND');
    expect((failure.err as { topics: string[] }).topics).toEqual([doomed]);
    expect(failure.ms).toBeLessThan(2000);

    const started = Date.now();
    const err2 = await oracle.latestOffsets([{ topic: doomed, partition: 0 }]).catch((e: unknown) => e);
    expect(isSluiceError(err2) && err2.code).toBe('SLUICE_TOPIC_NOT_FOUND');
    expect(Date.now() - started).toBeLessThan(5000);

    // The oracle keeps working for the topics that remain.
    expect(await oracle.listPartitions([kept])).toEqual([{ topic: kept, partition: 0 }]);
    expect((await oracle.latestOffsets([{ topic: kept, partition: 0 }])).get(`${kept}:0`)).toBe(0n);
  });

  it('partitionsWithBounds: partitions added since the last call come with their offsets; a deleted topic is named', async () => {
    const growing = unique('growing');
    const doomed = unique('doomed-b');
    await createTopic(growing, 1);
    await createTopic(doomed, 1);
    await producer.send({ topic: growing, messages: [{ value: 'a', partition: 0 }] });
    const first = await oracle.partitionsWithBounds([growing, doomed]);
    expect(first.partitions).toEqual([
      { topic: growing, partition: 0 },
      { topic: doomed, partition: 0 },
    ]);
    expect(first.latest).toEqual(
      new Map([
        [`${growing}:0`, 1n],
        [`${doomed}:0`, 0n],
      ])
    );

    // The offsets of the deleted topic are asked for (it is in the metadata of the last call) and
    // fail; the metadata names it.
    await admin.deleteTopics({ topics: [doomed] });
    const err = await eventually('TopicNotFoundError for the deleted topic', 30_000, () =>
      oracle.partitionsWithBounds([growing, doomed]).then(
        () => undefined,
        (e: unknown) => e
      )
    );
    expect(isSluiceError(err) && err.code).toBe('SLUICE_TOPIC_NOT_FOUND');
    expect((err as { topics: string[] }).topics).toEqual([doomed]);
    expect((await oracle.partitionsWithBounds([growing])).latest).toEqual(new Map([[`${growing}:0`, 1n]]));

    // The next call asks for the partitions it knows before the metadata says there are more.
    await admin.createPartitions({ topicPartitions: [{ topic: growing, count: 3 }] });
    await eventually('3 partitions in the metadata', 15_000, async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [growing] });
      return topics[0]?.partitions.length === 3 ? true : undefined;
    });
    // A new producer: the shared one's metadata does not know the new partitions yet.
    const fresh = kafka.producer();
    await fresh.connect();
    await fresh.send({
      topic: growing,
      messages: [
        { value: 'b', partition: 0 },
        { value: 'c', partition: 2 },
        { value: 'd', partition: 2 },
      ],
    });
    await fresh.disconnect();
    const grown = await oracle.partitionsWithBounds([growing]);
    expect(grown.partitions).toEqual([0, 1, 2].map((partition) => ({ topic: growing, partition })));
    // The same answers as asking after the metadata (the producer may retry a send: no exact counts).
    const asked = await oracle.offsetBounds(grown.partitions);
    expect(grown.latest).toEqual(asked.latest);
    expect(grown.earliest).toEqual(asked.earliest);
    expect(grown.latest.get(`${growing}:2`)).toBeGreaterThanOrEqual(2n);
    expect((await oracle.partitionsWithBounds([growing], (tp) => tp.partition === 2)).latest).toEqual(
      new Map([[`${growing}:2`, grown.latest.get(`${growing}:2`)]])
    );
  });

  it('an unreachable broker fails fast with KafkaUnavailableError naming the brokers', async () => {
    const bad: KafkaClientConfig = { ...config, brokers: ['127.0.0.1:1'], connectionTimeoutMs: 1000, retries: 1 };
    const started = Date.now();
    const err = await createKafkajsOffsetOracle(bad, logger).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(isSluiceError(err) && err.code).toBe('SLUICE_KAFKA_UNAVAILABLE');
    expect((err as Error).message).toContain('127.0.0.1:1');

    const badReader = createKafkajsRangeReader(bad, 1, logger);
    const err2 = await readRange(range('whatever', 0, 0, 1), badReader).catch((e: unknown) => e);
    await badReader.close();
    expect(isSluiceError(err2) && err2.code).toBe('SLUICE_KAFKA_UNAVAILABLE');

    const err3 = await createKafkajsGroupOffsetClient(bad, logger).catch((e: unknown) => e);
    expect(isSluiceError(err3) && err3.code).toBe('SLUICE_KAFKA_UNAVAILABLE');
  });
});
