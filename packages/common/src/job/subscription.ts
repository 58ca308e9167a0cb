import type { TopicAssignment } from '../config/schema';
import { JobError } from '../errors';

/**
 * What a job reads (Spark's ConsumerStrategies): all partitions of a list of topics, every topic
 * matching a regex (re-evaluated on every batch), or an explicit set of partitions. The driver
 * plans from it; executors check that the ranges they are sent belong to it.
 */
export type Subscription =
  { kind: 'topics'; topics: string[] } | { kind: 'pattern'; pattern: string } | { kind: 'assign'; assign: TopicAssignment };

/** The subscription from the configuration (if it names one) or else the job module's `source`. */
export function subscriptionOf(
  source: { topics?: string[]; pattern?: string; assign?: TopicAssignment },
  override: { topics?: string[]; pattern?: string; assign?: TopicAssignment }
): Subscription {
  const chosen = override.topics || override.pattern || override.assign ? override : source;
  if (chosen.topics) return { kind: 'topics', topics: chosen.topics };
  if (chosen.pattern !== undefined) return { kind: 'pattern', pattern: chosen.pattern };
  if (chosen.assign) return { kind: 'assign', assign: chosen.assign };
  throw new JobError(
    'the job subscribes to nothing: give source.topics, source.pattern or source.assign (or job.topics, job.pattern, job.assign)'
  );
}

/** The regex of a pattern subscription: matches whole topic names (as Java's `Pattern.matches`, which Spark uses). */
export function patternRegExp(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** Whether `topic`-`partition` can be part of the subscription (internal `__` topics never match a pattern). */
export function subscriptionCovers(subscription: Subscription, topic: string, partition: number): boolean {
  switch (subscription.kind) {
    case 'topics':
      return subscription.topics.includes(topic);
    case 'pattern':
      return !topic.startsWith('__') && patternRegExp(subscription.pattern).test(topic);
    case 'assign':
      return Object.hasOwn(subscription.assign, topic) && (subscription.assign[topic] ?? []).includes(partition);
  }
}
