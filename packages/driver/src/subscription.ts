import {
  ConfigError,
  isSluiceError,
  patternRegExp,
  type Subscription,
  type TopicNotFoundError,
  type OffsetOracle,
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

/**
 * Resolves the subscription against the cluster, now. Topics deleted meanwhile are reported in
 * `missing`, never thrown: the caller applies the data loss policy.
 * @param checkpointed `topic:partition` keys of the checkpoint (a pattern's deleted topics are found there).
 */
export async function resolveSubscription(
  oracle: OffsetOracle,
  subscription: Subscription,
  checkpointed: Iterable<string>
): Promise<ResolvedSubscription> {
  let wanted: string[];
  const missing: string[] = [];
  if (subscription.kind === 'pattern') {
    const regex = patternRegExp(subscription.pattern);
    const matches = (topic: string): boolean => !topic.startsWith('__') && regex.test(topic);
    wanted = (await oracle.listTopics()).filter(matches);
    const present = new Set(wanted);
    const gone = new Set<string>();
    for (const key of checkpointed) {
      const topic = key.slice(0, key.lastIndexOf(':'));
      if (matches(topic) && !present.has(topic)) gone.add(topic);
    }
    missing.push(...gone);
  } else {
    wanted = subscription.kind === 'topics' ? [...subscription.topics] : Object.keys(subscription.assign);
  }
  let partitions: TopicPartition[] = [];
  // A topic can disappear between listing and describing it: drop it and ask again.
  while (wanted.length > 0) {
    try {
      partitions = await oracle.listPartitions(wanted);
      break;
    } catch (e) {
      const notFound = new Set(isSluiceError(e) && e.code === 'SLUICE_TOPIC_NOT_FOUND' ? (e as TopicNotFoundError).topics : []);
      if (notFound.size === 0 || !wanted.some((t) => notFound.has(t))) throw e;
      missing.push(...notFound);
      wanted = wanted.filter((t) => !notFound.has(t));
    }
  }
  if (subscription.kind === 'assign') {
    const existing = new Set(partitions.map((tp) => `${tp.topic}:${tp.partition}`));
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
  return { partitions, topics: [...new Set(partitions.map((tp) => tp.topic))].sort(), missing: [...new Set(missing)].sort() };
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
