/**
 * Compressed topics: record batches written by third-party clients with gzip, snappy, lz4 and zstd
 * are read back exactly by the kafkajs range reader (kafkajs itself ships only gzip; sluice registers
 * the other codecs), and a whole job runs over a zstd topic with exact counts.
 *
 * Producers: kcat (librdkafka: raw snappy, zstd frames with a content size) and Kafka's own Java
 * console producer (xerial-framed snappy, streaming zstd frames without a content size, larger than
 * 1 MiB uncompressed).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import type Redis from 'ioredis';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import pino from 'pino';

import {
  createKafkajsOffsetOracle,
  createKafkajsRangeReader,
  type KafkaClientConfig,
  type OffsetOracle,
  type RangeReader,
  type SourceRecord,
} from '@sluice/common';

import { brokers, repoRoot, uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, endOffsets } from '../helpers/kafka';
import { killAll, runAuditUntilLatest } from '../helpers/processes';
import { auditCounts, checkpoint, redis } from '../helpers/redis';

jest.setTimeout(120_000);

const logger = pino({ level: process.env['SLUICE_TEST_LOG'] ?? 'silent' });

type Codec = 'gzip' | 'snappy' | 'lz4' | 'zstd';
const codecType: Record<Codec, CompressionTypes> = {
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** Writes `input` to the stdin of `command` and fails unless it exits 0. */
function pipeTo(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${stderr.slice(-2000)}`))));
    child.stdin.end(input);
  });
}

/** kcat (librdkafka) produces one value per line to `partition`, compressed with `codec`. */
function kcatProduce(topic: string, partition: number, codec: Codec, values: string[]): Promise<void> {
  return pipeTo(
    'kcat',
    ['-b', brokers(), '-P', '-t', topic, '-p', String(partition), '-z', codec, '-X', 'linger.ms=50', '-X', 'batch.num.messages=500'],
    values.map((v) => `${v}\n`).join('')
  );
}

/**
 * Kafka's Java console producer, batching up to 8 MB per request. Its own flags win over
 * `--command-property` for compression, batch size and linger, so they are set with them.
 */
function javaProduce(topic: string, codec: Codec, values: string[]): Promise<void> {
  return pipeTo(
    'bash',
    [
      join(repoRoot, 'deploy', 'local', 'kafka.sh'),
      'console-producer',
      '--bootstrap-server',
      brokers(),
      '--topic',
      topic,
      '--compression-codec',
      codec,
      '--batch-size',
      '8000000',
      '--timeout',
      '1000',
      '--command-property',
      'max.request.size=10000000',
    ],
    values.map((v) => `${v}\n`).join('')
  );
}

const config = (): KafkaClientConfig => ({
  brokers: brokers().split(','),
  clientId: 'it-compression',
  isolation: 'read_committed',
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 10_000,
  fetchMaxBytes: 1 << 20,
  // Small per-partition fetches: several fetches per range, each starting inside or after a batch.
  partitionMaxBytes: 16 << 10,
  fetchMaxWaitMs: 100,
  retries: 5,
});

let oracle: OffsetOracle;
let reader: RangeReader;
/** Decompressions per codec type, counted by wrapping the factories that sluice registered. */
const decoded = new Map<number, number>();

beforeAll(async () => {
  oracle = await createKafkajsOffsetOracle(config(), logger);
  reader = createKafkajsRangeReader(config(), 2, logger);
  // The factories above registered the codecs: count their use, to prove the batches were compressed.
  const table = CompressionCodecs as unknown as Record<number, () => unknown>;
  for (const type of Object.values(codecType)) {
    const factory = table[type];
    if (factory === undefined) throw new Error(`no codec registered for compression type ${type}`);
    table[type] = () => {
      decoded.set(type, (decoded.get(type) ?? 0) + 1);
      return factory();
    };
  }
});

afterAll(async () => {
  await Promise.allSettled([reader?.close(), oracle?.close()]);
});

async function readRange(topic: string, partition: number, from: bigint, until: bigint): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of reader.read({ topic, partition, fromOffset: from, untilOffset: until })) out.push(...chunk);
  return out;
}

const offsets = (from: number, until: number): bigint[] => Array.from({ length: until - from }, (_, i) => BigInt(from + i));
const valuesOf = (records: SourceRecord[]): Array<string | undefined> => records.map((r) => r.value?.toString('utf8'));

/** Reads the whole partition and two inner ranges, checking offsets and values against `values`. */
async function expectExactReads(topic: string, partition: number, values: string[]): Promise<void> {
  const latest = await oracle.latestOffsets([{ topic, partition }]);
  expect(latest.get(`${topic}:${partition}`)).toBe(BigInt(values.length));
  const all = await readRange(topic, partition, 0n, BigInt(values.length));
  expect(all.map((r) => r.offset)).toEqual(offsets(0, values.length));
  expect(valuesOf(all)).toEqual(values);
  for (const [from, until] of [
    [1, 2],
    [Math.floor(values.length / 3), Math.floor((2 * values.length) / 3) + 1],
  ] as const) {
    const part = await readRange(topic, partition, BigInt(from), BigInt(until));
    expect(part.map((r) => r.offset)).toEqual(offsets(from, until));
    expect(valuesOf(part)).toEqual(values.slice(from, until));
  }
}

describe('compressed topics', () => {
  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('reads exact ranges of a %s topic produced by kcat', async (codec) => {
    const topic = uniqueName(`compress-${codec}`);
    await createTopic(topic, 2);
    const values = (p: number): string[] => Array.from({ length: 2000 }, (_, i) => `${codec}-p${p}-${i}-${'abc'.repeat(i % 40)}`);
    await Promise.all([0, 1].map((p) => kcatProduce(topic, p, codec, values(p))));
    const before = decoded.get(codecType[codec]) ?? 0;
    for (const p of [0, 1]) await expectExactReads(topic, p, values(p));
    expect(decoded.get(codecType[codec]) ?? 0).toBeGreaterThan(before);
  });

  it.each(['snappy', 'lz4', 'zstd'] as const)(
    'reads a %s topic produced by the Java client (large batches, Java framing)',
    async (codec) => {
      const topic = uniqueName(`compress-java-${codec}`);
      await createTopic(topic, 1);
      // About 3 MB: zstd frames from Java carry no content size, and must still decode beyond 1 MiB.
      const values = Array.from({ length: 3000 }, (_, i) => `java-${codec}-${i}-${(i * 7919).toString(36).repeat(100)}`);
      await javaProduce(topic, codec, values);
      const before = decoded.get(codecType[codec]) ?? 0;
      await expectExactReads(topic, 0, values);
      expect(decoded.get(codecType[codec]) ?? 0).toBeGreaterThan(before);
    }
  );

  describe('end to end', () => {
    let client: Redis;
    beforeAll(() => (client = redis()));
    afterAll(() => client.quit());
    afterEach(killAll);

    it('sluice run --until latest over a zstd topic counts every record exactly once', async () => {
      const topic = uniqueName('compress-e2e');
      await createTopic(topic, 3);
      const produced: string[] = [];
      for (let p = 0; p < 3; p++) {
        const values = Array.from({ length: 1500 }, (_, i) => `zstd-e2e-p${p}-${i}`);
        await kcatProduce(topic, p, 'zstd', values);
        produced.push(...values);
      }
      await runAuditUntilLatest(topic, { batchIntervalMs: 200, maxRatePerPartition: 2000 }).succeeds(90_000);
      assertExactlyOnce(await auditCounts(client, topic), produced);
      expect(await checkpoint(client, topic)).toEqual(await endOffsets(topic));
    });
  });
});
