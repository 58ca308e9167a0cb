import { TopicNotFoundError, type OffsetOracle, type TopicPartition } from '@sluice/common';
import { resolveSubscription, subscriptionOf } from '../subscription';

/** An oracle over a fixed cluster: topic -> partition count. */
function oracle(cluster: Record<string, number>): OffsetOracle {
  const unused = (): never => {
    throw new Error('not used');
  };
  return {
    listTopics: () => Promise.resolve(Object.keys(cluster).sort()),
    listPartitions: (topics: string[]) => {
      const missing = topics.filter((t) => cluster[t] === undefined);
      if (missing.length > 0) return Promise.reject(new TopicNotFoundError(missing));
      return Promise.resolve(
        topics.flatMap((topic): TopicPartition[] => Array.from({ length: cluster[topic] ?? 0 }, (_, partition) => ({ topic, partition })))
      );
    },
    latestOffsets: unused,
    earliestOffsets: unused,
    offsetsForTimes: unused,
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
});
