import pino from 'pino';
import { KafkaJSTopicMetadataNotLoaded } from 'kafkajs';
import type { DirectCluster, KafkajsPartitionMetadata } from '../kafkajs/direct-cluster';
import { KafkajsOffsetOracle, pickBounds } from '../kafkajs/offset-oracle';
import type { KafkaClientConfig, OffsetBounds, TopicPartition } from '../types';

const config: KafkaClientConfig = {
  brokers: ['k:9092'],
  clientId: 'sluice',
  isolation: 'read_committed',
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 30000,
  fetchMaxBytes: 1,
  partitionMaxBytes: 1,
  fetchMaxWaitMs: 100,
  retries: 1,
};

/** A broker error as kafkajs throws it (KafkaJSProtocolError with the protocol's error type). */
function protocolError(type: string): Error {
  return Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable: true });
}

const unknownTopic = (): Error => protocolError('UNKNOWN_TOPIC_OR_PARTITION');

/**
 * The part of kafkajs's Cluster the oracle uses, over a broker holding `topics` (name -> latest
 * offset per partition; earliest is always 0), its only broker leading every partition of the cached
 * metadata (the oracle routes ListOffsets by that metadata and leaves out partitions it lacks).
 * Every request is logged when sent and when answered, so tests see what overlapped.
 */
class FakeCluster {
  readonly topics = new Map<string, bigint[]>();
  targetTopics = new Set<string>();
  isolationLevel = 1;
  readonly log: string[] = [];
  /** Makes the next ListOffsets requests fail (as a moved leader does). */
  failListOffsets = 0;
  private cached: Map<string, number> | undefined;

  async refreshMetadata(): Promise<void> {
    const targets = [...this.targetTopics];
    this.log.push(`metadata ${targets.join(',')}`);
    await new Promise((resolve) => setImmediate(resolve));
    if (targets.some((t) => !this.topics.has(t))) throw unknownTopic();
    this.cached = new Map(targets.map((t) => [t, this.topics.get(t)?.length ?? 0]));
    this.log.push('metadata answered');
  }

  async refreshMetadataIfNecessary(): Promise<void> {
    if (this.cached === undefined || [...this.targetTopics].some((t) => !this.cached?.has(t))) await this.refreshMetadata();
  }

  findTopicPartitionMetadata(topic: string): KafkajsPartitionMetadata[] {
    if (this.cached === undefined) throw new KafkaJSTopicMetadataNotLoaded('Topic metadata not loaded', { topic });
    return Array.from({ length: this.cached.get(topic) ?? 0 }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0 }));
  }

  /** The only broker, leader of every partition (see findTopicPartitionMetadata). */
  findBroker(): Promise<{ listOffsets: FakeCluster['listOffsets'] }> {
    return Promise.resolve({ listOffsets: (request) => this.listOffsets(request) });
  }

  async listOffsets(request: {
    topics: Array<{ topic: string; partitions: Array<{ partition: number; timestamp: number | string }> }>;
  }): Promise<{ responses: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }> {
    const earliest = request.topics[0]?.partitions[0]?.timestamp === -2;
    const what = `${earliest ? 'earliest' : 'latest'} ${request.topics.map((t) => `${t.topic}[${t.partitions.map((p) => p.partition).join(',')}]`).join(' ')}`;
    this.log.push(`listOffsets ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failListOffsets > 0) {
      this.failListOffsets--;
      throw protocolError('NOT_LEADER_FOR_PARTITION');
    }
    if (request.topics.some((t) => !this.topics.has(t.topic))) throw unknownTopic();
    this.log.push(`listOffsets answered ${what}`);
    return {
      responses: request.topics.map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map(({ partition }) => ({
          partition,
          offset: String(earliest ? 0n : (this.topics.get(topic)?.[partition] ?? 0n)),
        })),
      })),
    };
  }

  metadata(): Promise<{ brokers: never[]; topicMetadata: Array<{ topic: string; topicErrorCode: number; partitionMetadata: never[] }> }> {
    return Promise.resolve({
      brokers: [],
      topicMetadata: [...this.topics.keys()].map((topic) => ({ topic, topicErrorCode: 0, partitionMetadata: [] })),
    });
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }
}

function oracleOver(cluster: FakeCluster): KafkajsOffsetOracle {
  return new KafkajsOffsetOracle(cluster as unknown as DirectCluster, config, pino({ level: 'silent' }));
}

const tps = (topic: string, ...partitions: number[]): TopicPartition[] => partitions.map((partition) => ({ topic, partition }));

describe('KafkajsOffsetOracle.partitionsWithBounds: partitions and their offsets in about one round trip', () => {
  it('asks for the offsets of the partitions it knows while the metadata is refreshed', async () => {
    const cluster = new FakeCluster();
    cluster.topics.set('a', [5n, 7n]);
    const oracle = oracleOver(cluster);
    // The first call knows nothing yet: metadata, then offsets.
    expect(await oracle.partitionsWithBounds(['a'])).toEqual({
      partitions: tps('a', 0, 1),
      latest: new Map([
        ['a:0', 5n],
        ['a:1', 7n],
      ]),
      earliest: new Map([
        ['a:0', 0n],
        ['a:1', 0n],
      ]),
    });
    cluster.log.length = 0;
    cluster.topics.set('a', [6n, 9n]);
    const second = await oracle.partitionsWithBounds(['a']);
    expect(second.latest).toEqual(
      new Map([
        ['a:0', 6n],
        ['a:1', 9n],
      ])
    );
    // Both ListOffsets and the metadata are sent before any of them is answered.
    expect(cluster.log.slice(0, 3).sort()).toEqual(['listOffsets earliest a[0,1]', 'listOffsets latest a[0,1]', 'metadata a']);
    expect(cluster.log).toHaveLength(6);
  });

  it('partitions added since the last call are asked for once the refreshed metadata names them', async () => {
    const cluster = new FakeCluster();
    cluster.topics.set('a', [5n]);
    const oracle = oracleOver(cluster);
    await oracle.partitionsWithBounds(['a']);
    cluster.topics.set('a', [5n, 3n, 4n]);
    cluster.log.length = 0;
    const grown = await oracle.partitionsWithBounds(['a']);
    expect(grown.partitions).toEqual(tps('a', 0, 1, 2));
    expect(grown.latest).toEqual(
      new Map([
        ['a:0', 5n],
        ['a:1', 3n],
        ['a:2', 4n],
      ])
    );
    expect(cluster.log.filter((l) => l.startsWith('listOffsets latest'))).toEqual(['listOffsets latest a[0]', 'listOffsets latest a[1,2]']);
  });

  it('a failed prefetch (leader moved) asks again from the refreshed metadata', async () => {
    const cluster = new FakeCluster();
    cluster.topics.set('a', [5n, 7n]);
    const oracle = oracleOver(cluster);
    await oracle.partitionsWithBounds(['a']);
    cluster.failListOffsets = 1;
    cluster.log.length = 0;
    const after = await oracle.partitionsWithBounds(['a']);
    expect(after.latest.get('a:1')).toBe(7n);
    expect(after.earliest.get('a:1')).toBe(0n);
    expect(cluster.log.filter((l) => l.startsWith('listOffsets answered latest'))).toEqual(['listOffsets answered latest a[0,1]']);
  });

  it('a deleted topic fails as listPartitions does, naming it', async () => {
    const cluster = new FakeCluster();
    cluster.topics.set('a', [5n]);
    cluster.topics.set('b', [1n]);
    const oracle = oracleOver(cluster);
    await oracle.partitionsWithBounds(['a', 'b']);
    cluster.topics.delete('b');
    await expect(oracle.partitionsWithBounds(['a', 'b'])).rejects.toMatchObject({ code: 'SLUICE_TOPIC_NOT_FOUND', topics: ['b'] });
    expect((await oracle.partitionsWithBounds(['a'])).latest).toEqual(new Map([['a:0', 5n]]));
  });

  it('only the selected partitions get offsets; all are listed', async () => {
    const cluster = new FakeCluster();
    cluster.topics.set('a', [5n, 6n, 7n]);
    const oracle = oracleOver(cluster);
    await oracle.partitionsWithBounds(['a']);
    cluster.log.length = 0;
    const some = await oracle.partitionsWithBounds(['a'], (tp) => tp.partition === 2);
    expect(some.partitions).toEqual(tps('a', 0, 1, 2));
    expect(some.latest).toEqual(new Map([['a:2', 7n]]));
    expect(cluster.log.filter((l) => l.startsWith('listOffsets latest'))).toEqual(['listOffsets latest a[2]']);
  });

  it('offsetBounds sends both ListOffsets at once', async () => {
    const cluster = new FakeCluster();
    cluster.topics.set('a', [5n]);
    const oracle = oracleOver(cluster);
    await oracle.listPartitions(['a']);
    cluster.log.length = 0;
    expect(await oracle.offsetBounds(tps('a', 0))).toEqual({ latest: new Map([['a:0', 5n]]), earliest: new Map([['a:0', 0n]]) });
    expect(cluster.log.slice(0, 2).sort()).toEqual(['listOffsets earliest a[0]', 'listOffsets latest a[0]']);
  });
});

describe('pickBounds', () => {
  const bounds = (entries: Array<[string, bigint, bigint]>): OffsetBounds => ({
    latest: new Map(entries.map(([k, l]) => [k, l])),
    earliest: new Map(entries.map(([k, , e]) => [k, e])),
  });

  it('takes each partition from one answer: the prefetched one when it has both offsets, else the later one', () => {
    const prefetched = bounds([
      ['a:0', 10n, 1n],
      ['a:1', 20n, 2n],
      ['gone:0', 5n, 0n],
    ]);
    prefetched.earliest.delete('a:1');
    const asked = bounds([
      ['a:1', 21n, 3n],
      ['a:2', 30n, 0n],
    ]);
    expect(pickBounds(tps('a', 0, 1, 2), prefetched, asked)).toEqual(
      bounds([
        ['a:0', 10n, 1n],
        ['a:1', 21n, 3n],
        ['a:2', 30n, 0n],
      ])
    );
    expect(pickBounds(tps('a', 0), undefined, undefined)).toEqual(bounds([]));
  });
});
