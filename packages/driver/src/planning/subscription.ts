import {
  ConfigError,
  isSluiceError,
  partitionKey,
  patternRegExp,
  type OffsetBounds,
  type OffsetOracle,
  type PartitionsWithBounds,
  type Subscription,
  type TopicNotFoundError,
  type TopicPartition,
} from '@sluice/common';

// The subscription itself lives in common: executors check the ranges they are sent against it.
export { patternRegExp, subscriptionOf, type Subscription } from '@sluice/common';

export interface ResolvedSubscription {
  /** The partitions to plan this batch, sorted by topic then partition. */
  partitions: TopicPartition[];
  /** The topics these partitions belong to, sorted. */
  topics: string[];
  /**
   * Subscribed topics (or assigned partitions, as `topic-partition`) that no longer exist: for a
   * pattern, checkpointed topics that match it but are gone from the cluster.
   */
  missing: string[];
}

/** Topic names in a list of subscription-readable form, for logs and the UI. */
export function describeSubscription(s: Subscription): string {
  switch (s.kind) {
    case 'topics':
      return s.topics.join(',');
    case 'pattern':
      return `/${s.pattern}/`;
    case 'assign':
      return Object.entries(s.assign)
        .map(([t, ps]) => `${t}[${ps.join(',')}]`)
        .join(',');
  }
}

/** `topic:partition` keys of the checkpoint, or a promise of them (awaited only once Kafka has answered). */
export type Checkpointed = Iterable<string> | Promise<Iterable<string>>;

/**
 * Resolves the subscription against the cluster, now. Topics deleted meanwhile are reported in
 * `missing`, never thrown: the caller applies the data loss policy.
 * @param checkpointed the checkpoint's keys: a pattern's deleted topics are found there.
 */
export async function resolveSubscription(
  oracle: OffsetOracle,
  subscription: Subscription,
  checkpointed: Checkpointed = []
): Promise<ResolvedSubscription> {
  const describe = async (topics: string[]): Promise<PartitionsWithBounds> => ({
    partitions: await oracle.listPartitions(topics),
    latest: new Map(),
    earliest: new Map(),
  });
  const { partitions, topics, missing } = await resolveWith(oracle, subscription, checkpointed, describe);
  return { partitions, topics, missing };
}

/**
 * {@link resolveSubscription} with the latest and earliest offsets of the resolved partitions,
 * asked for along with the metadata ({@link OffsetOracle.partitionsWithBounds}).
 */
export function resolveSubscriptionWithBounds(
  oracle: OffsetOracle,
  subscription: Subscription,
  checkpointed: Checkpointed = []
): Promise<ResolvedSubscription & OffsetBounds> {
  const assigned = subscription.kind === 'assign' ? assignedKeys(subscription.assign) : undefined;
  const select = assigned && ((tp: TopicPartition): boolean => assigned.has(partitionKey(tp)));
  return resolveWith(oracle, subscription, checkpointed, (topics) => oracle.partitionsWithBounds(topics, select));
}

async function resolveWith(
  oracle: OffsetOracle,
  subscription: Subscription,
  checkpointed: Checkpointed,
  describe: (topics: string[]) => Promise<PartitionsWithBounds>
): Promise<ResolvedSubscription & OffsetBounds> {
  let wanted: string[];
  let matches: ((topic: string) => boolean) | undefined;
  const missing: string[] = [];
  if (subscription.kind === 'pattern') {
    const regex = patternRegExp(subscription.pattern);
    matches = (topic: string): boolean => !topic.startsWith('__') && regex.test(topic);
    wanted = (await oracle.listTopics()).filter(matches);
  } else {
    wanted = subscription.kind === 'topics' ? [...subscription.topics] : Object.keys(subscription.assign);
  }
  const listed = new Set(wanted);
  let described: PartitionsWithBounds = { partitions: [], latest: new Map(), earliest: new Map() };
  // A topic can disappear between listing and describing it: drop it and ask again.
  while (wanted.length > 0) {
    try {
      described = await describe(wanted);
      break;
    } catch (e) {
      const notFound = new Set(isSluiceError(e) && e.code === 'SLUICE_TOPIC_NOT_FOUND' ? (e as TopicNotFoundError).topics : []);
      if (notFound.size === 0 || !wanted.some((t) => notFound.has(t))) throw e;
      missing.push(...notFound);
      wanted = wanted.filter((t) => !notFound.has(t));
    }
  }
  let partitions = described.partitions;
  if (matches) missing.push(...deletedMatches(matches, listed, await checkpointed));
  if (subscription.kind === 'assign') {
    const existing = new Set(partitions.map(partitionKey));
    const missingTopics = new Set(missing);
    partitions = [];
    for (const [topic, ps] of Object.entries(subscription.assign)) {
      if (missingTopics.has(topic)) continue;
      for (const partition of ps) {
        if (existing.has(`${topic}:${partition}`)) partitions.push({ topic, partition });
        else missing.push(`${topic}-${partition}`);
      }
    }
  }
  partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  return {
    partitions,
    topics: [...new Set(partitions.map((tp) => tp.topic))].sort(),
    missing: [...new Set(missing)].sort(),
    latest: described.latest,
    earliest: described.earliest,
  };
}

/** A pattern's checkpointed topics that match it but were not listed in the cluster: deleted. */
function deletedMatches(matches: (topic: string) => boolean, listed: Set<string>, checkpointed: Iterable<string>): string[] {
  const gone = new Set<string>();
  for (const key of checkpointed) {
    const topic = key.slice(0, key.lastIndexOf(':'));
    if (matches(topic) && !listed.has(topic)) gone.add(topic);
  }
  return [...gone];
}

function assignedKeys(assign: Record<string, number[]>): Set<string> {
  return new Set(Object.entries(assign).flatMap(([topic, ps]) => ps.map((partition) => partitionKey({ topic, partition }))));
}

/**
 * Start-up check: a topic list must exist (SLUICE_TOPIC_NOT_FOUND), and an assignment must name
 * existing topics and partitions (SLUICE_CONFIG_INVALID). A pattern may match nothing yet.
 */
export async function checkSubscription(oracle: OffsetOracle, subscription: Subscription): Promise<void> {
  if (subscription.kind === 'topics') {
    await oracle.listPartitions(subscription.topics);
  } else if (subscription.kind === 'assign') {
    const resolved = await resolveSubscription(oracle, subscription, []);
    if (resolved.missing.length > 0) {
      throw new ConfigError(`'job.assign' names partitions that do not exist in Kafka: ${resolved.missing.join(', ')}`);
    }
  } else {
    await oracle.listTopics();
  }
}
