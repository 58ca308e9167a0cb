import { partitionKey, TopicNotFoundError, type OffsetOracle, type TopicPartition } from '@sluice/common';
import { resolveSubscription, resolveSubscriptionWithBounds, subscriptionOf } from '../subscription';

/**
 * An oracle over a fixed cluster: topic -> partition count; every partition's latest offset is
 * 100 + its number, its earliest 0. `calls` logs what was asked, in order.
 */
function oracle(cluster: Record<string, number>, calls: string[] = []): OffsetOracle {
  const unused = (): never => {
    throw new Error('not used');
  };
  const listPartitions = (topics: string[]): Promise<TopicPartition[]> => {
    const missing = topics.filter((t) => cluster[t] === undefined);
    if (missing.length > 0) return Promise.reject(new TopicNotFoundError(missing));
    return Promise.resolve(
      topics.flatMap((topic): TopicPartition[] => Array.from({ length: cluster[topic] ?? 0 }, (_, partition) => ({ topic, partition })))
    );
  };
  return {
    listTopics: () => {
      calls.push('listTopics');
      return Promise.resolve(Object.keys(cluster).sort());
    },
    listPartitions,
    partitionsWithBounds: async (topics, select = () => true) => {
      calls.push(`partitionsWithBounds ${topics.join(',')}`);
      const partitions = await listPartitions(topics);
      const selected = partitions.filter(select);
      return {
        partitions,
        latest: new Map(selected.map((tp) => [partitionKey(tp), 100n + BigInt(tp.partition)])),
        earliest: new Map(selected.map((tp) => [partitionKey(tp), 0n])),
      };
    },
    latestOffsets: unused,
    offsetBounds: unused,
    offsetsForTimes: unused,
    firstRecordTimestamps: unused,
    close: () => Promise.resolve(),
  };
}

describe('subscriptions', () => {
  it('the configuration replaces the module subscription as a whole', () => {
    expect(subscriptionOf({ topics: ['a'] }, { pattern: 'b.*' })).toEqual({ kind: 'pattern', pattern: 'b.*' });
    expect(subscriptionOf({ pattern: 'b.*' }, { assign: { a: [1] } })).toEqual({ kind: 'assign', assign: { a: [1] } });
    expect(subscriptionOf({ assign: { a: [1] } }, {})).toEqual({ kind: 'assign', assign: { a: [1] } });
  });

  it('a topic list: every partition; a deleted topic is reported missing, not thrown', async () => {
    const resolved = await resolveSubscription(oracle({ a: 2 }), { kind: 'topics', topics: ['a', 'gone'] }, []);
    expect(resolved).toEqual({
      partitions: [
        { topic: 'a', partition: 0 },
        { topic: 'a', partition: 1 },
      ],
      topics: ['a'],
      missing: ['gone'],
    });
  });

  it('a pattern matches whole names, never internal topics, and reports checkpointed matching topics that are gone', async () => {
    const cluster = oracle({ 'orders-1': 1, 'orders-2': 1, 'xorders-3': 1, __orders: 1, 'orders-1-dlq': 1 });
    const resolved = await resolveSubscription(cluster, { kind: 'pattern', pattern: 'orders-\\d' }, [
      'orders-9:0',
      'other:0',
      'orders-1:0',
    ]);
    expect(resolved.topics).toEqual(['orders-1', 'orders-2']);
    expect(resolved.missing).toEqual(['orders-9']);
  });

  it('an assignment: exactly the named partitions; missing topics and partitions reported', async () => {
    const resolved = await resolveSubscription(oracle({ a: 3 }), { kind: 'assign', assign: { a: [2, 0, 5], b: [0] } }, []);
    expect(resolved.partitions).toEqual([
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 2 },
    ]);
    expect(resolved.missing).toEqual(['a-5', 'b']);
  });

  describe('with bounds: the offsets of exactly the resolved partitions, from the same call', () => {
    it('a topic list: every partition with its latest and earliest offset; a deleted topic missing', async () => {
      const resolved = await resolveSubscriptionWithBounds(oracle({ a: 2 }), { kind: 'topics', topics: ['gone', 'a'] });
      expect(resolved.partitions).toEqual([
        { topic: 'a', partition: 0 },
        { topic: 'a', partition: 1 },
      ]);
      expect(resolved.missing).toEqual(['gone']);
      expect(resolved.latest).toEqual(
        new Map([
          ['a:0', 100n],
          ['a:1', 101n],
        ])
      );
      expect(resolved.earliest).toEqual(
        new Map([
          ['a:0', 0n],
          ['a:1', 0n],
        ])
      );
    });

    it('an assignment: offsets of the assigned partitions only', async () => {
      const resolved = await resolveSubscriptionWithBounds(oracle({ a: 4 }), { kind: 'assign', assign: { a: [3, 1, 7] } });
      expect(resolved.partitions).toEqual([
        { topic: 'a', partition: 1 },
        { topic: 'a', partition: 3 },
      ]);
      expect(resolved.missing).toEqual(['a-7']);
      expect([...resolved.latest.keys()].sort()).toEqual(['a:1', 'a:3']);
    });

    it('a pattern: the cluster is asked before the checkpoint is needed, deleted topics still found there', async () => {
      const calls: string[] = [];
      let release: (keys: string[]) => void = () => undefined;
      const checkpointed = new Promise<string[]>((resolve) => (release = resolve));
      const pending = resolveSubscriptionWithBounds(
        oracle({ 'orders-1': 1, other: 1 }, calls),
        { kind: 'pattern', pattern: 'orders-\\d' },
        checkpointed
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toEqual(['listTopics', 'partitionsWithBounds orders-1']);
      release(['orders-1:0', 'orders-2:0', 'other:0']);
      const resolved = await pending;
      expect(resolved.missing).toEqual(['orders-2']);
      expect(resolved.latest).toEqual(new Map([['orders-1:0', 100n]]));
    });
  });
});
