import { KafkaJSConnectionError, KafkaJSTopicMetadataNotLoaded } from 'kafkajs';

import { TopicNotFoundError } from '../../errors';
import type { Logger } from '../../logging';
import {
  partitionKey,
  type KafkaClientConfig,
  type OffsetBounds,
  type OffsetOracle,
  type OffsetRange,
  type PartitionsWithBounds,
  type TopicPartition,
} from '../types';
import {
  connectBounded,
  createDirectCluster,
  groupByLeader,
  setTargetTopics,
  type KafkajsBrokerMetadata,
  type DirectCluster,
} from './direct-cluster';
import { isUnknownTopic, toSluiceError, withMetadataRetry } from './kafka-errors';
import { registerCodecs } from './codecs';
import { firstRecordTimestamps } from './record-timestamps';

/** Where ListOffsets looks: the log start, the latest offset, or a timestamp in ms. */
type At = 'earliest' | 'latest' | bigint;
/** ListOffsets' timestamps for the log start and the latest offset. */
const EARLIEST = -2;
const LATEST = -1;

/**
 * The driver's view of Kafka: partitions, latest (LSO under read_committed) and earliest offsets.
 * Calls are serialised: the cluster holds one metadata snapshot, which each call points at its topics.
 * {@link firstRecordTimestamps} has a connection (and a queue) of its own.
 */
export class KafkajsOffsetOracle implements OffsetOracle {
  private readonly queues = { offsets: Promise.resolve() as Promise<unknown>, probe: Promise.resolve() as Promise<unknown> };
  /** The connection of {@link firstRecordTimestamps}, made on first use. */
  private probe: Promise<DirectCluster> | undefined;

  constructor(
    private readonly cluster: DirectCluster,
    private readonly config: KafkaClientConfig,
    private readonly logger: Logger,
    private readonly connectProbe: () => Promise<DirectCluster> = async () => {
      const probe = createDirectCluster(config, logger);
      await connectBounded(probe, config);
      return probe;
    }
  ) {}

  listPartitions(topics: string[]): Promise<TopicPartition[]> {
    return this.serial(() => this.freshPartitions([...new Set(topics)]));
  }

  latestOffsets(tps: TopicPartition[]): Promise<Map<string, bigint>> {
    return this.serial(async () => (await this.listOffsets(tps, ['latest']))[0] as Map<string, bigint>);
  }

  offsetBounds(tps: TopicPartition[]): Promise<OffsetBounds> {
    return this.serial(() => this.bounds(tps));
  }

  partitionsWithBounds(topics: string[], select: (tp: TopicPartition) => boolean = () => true): Promise<PartitionsWithBounds> {
    return this.serial(async () => {
      const unique = [...new Set(topics)];
      if (unique.length === 0) return { partitions: [], latest: new Map(), earliest: new Map() };
      // Targets first: a refresh kafkajs starts on its own (broker not found) must cover these topics.
      setTargetTopics(this.cluster, unique);
      // While the metadata is refreshed (it must be: new partitions show up on the next batch), ask
      // for the offsets of the partitions the cached metadata knows, normally the previous batch's.
      // kafkajs picks leaders and brokers from the cached metadata synchronously, before the refresh
      // replaces it, so these requests are consistent with the snapshot they were routed by.
      // Speculative: any failure (leader moved, topic deleted) leaves those partitions to the
      // ordinary path below, with its refreshes and retries.
      const known = this.cachedPartitions(unique).filter(select);
      const early = known.length === 0 ? undefined : this.requestBounds(known).catch(() => undefined);
      let partitions: TopicPartition[];
      try {
        partitions = await this.freshPartitions(unique);
      } catch (e) {
        await early;
        throw e;
      }
      const prefetched = await early;
      const wanted = partitions.filter(select);
      // New partitions (or a failed prefetch): asked for now, from the refreshed metadata.
      const rest = wanted.filter((tp) => !hasBounds(prefetched, partitionKey(tp)));
      const asked = rest.length > 0 ? await this.bounds(rest, unique) : undefined;
      return { partitions, ...pickBounds(wanted, prefetched, asked) };
    });
  }

  offsetsForTimes(tps: TopicPartition[], timestampMs: bigint): Promise<Map<string, bigint>> {
    // Negative timestamps are ListOffsets's sentinels (-1 latest, -2 earliest, -3 max timestamp).
    if (timestampMs < 0n) return Promise.reject(new RangeError(`offsetsForTimes: timestamp ${timestampMs} is negative`));
    return this.serial(async () => {
      // Latest first: where the broker finds no record at or after the time (offset -1), the answer
      // is this earlier latest offset, so a record appended between the two requests is never skipped.
      const [latest] = (await this.listOffsets(tps, ['latest'])) as [Map<string, bigint>];
      const [found] = (await this.listOffsets(tps, [timestampMs])) as [Map<string, bigint>];
      for (const [key, offset] of found) {
        if (offset < 0n) found.set(key, latest.get(key) ?? offset);
      }
      return found;
    });
  }

  listTopics(): Promise<string[]> {
    return this.serial(() =>
      this.retry(
        'Metadata (all topics)',
        async () => {
          // Asks a broker every time (kafkajs's cached snapshot is not used for the answer).
          const all = await this.allTopicsMetadata();
          return all.topicMetadata
            .filter((t) => t.isInternal !== true)
            .map((t) => t.topic)
            .sort();
        },
        []
      )
    );
  }

  firstRecordTimestamps(ranges: OffsetRange[]): Promise<Map<string, bigint | null>> {
    const operation = 'Fetch (record timestamps)';
    return this.serial(async () => {
      this.probe ??= this.connectProbe();
      const probe = await this.probe.catch((e: unknown) => {
        this.probe = undefined;
        throw toSluiceError(e, operation, this.config);
      });
      return firstRecordTimestamps(probe, this.config, ranges);
    }, 'probe');
  }

  async close(): Promise<void> {
    await Promise.all([this.queues.offsets.catch(() => undefined), this.queues.probe.catch(() => undefined)]);
    const probe = await this.probe?.catch(() => undefined);
    await Promise.all([this.cluster.disconnect(), probe?.disconnect()]);
  }

  /** The partitions of `topics` from a forced metadata refresh, sorted by topic (as given) then partition. */
  private async freshPartitions(topics: string[]): Promise<TopicPartition[]> {
    if (topics.length === 0) return [];
    // Always refresh: new partitions must show up on the next batch.
    await this.retry(`Metadata ${topics.join(',')}`, () => this.refresh(topics, true), topics);
    return this.snapshotPartitions(topics);
  }

  /** The partitions of `topics` in the cached metadata, without asking Kafka ([] before the first refresh). */
  private cachedPartitions(topics: string[]): TopicPartition[] {
    try {
      return this.snapshotPartitions(topics);
    } catch {
      return [];
    }
  }

  private snapshotPartitions(topics: string[]): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const topic of topics) {
      const partitions = this.cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
      partitions.sort((a, b) => a - b);
      for (const partition of partitions) out.push({ topic, partition });
    }
    return out;
  }

  /** Latest and earliest offsets, with refreshes and retries. */
  private async bounds(tps: TopicPartition[], targets?: string[]): Promise<OffsetBounds> {
    const [latest, earliest] = (await this.listOffsets(tps, ['latest', 'earliest'], targets)) as [Map<string, bigint>, Map<string, bigint>];
    return { latest, earliest };
  }

  /** Latest and earliest offsets from the cached metadata as it is: no refresh, no retry, partitions it lacks left out. */
  private async requestBounds(tps: TopicPartition[]): Promise<OffsetBounds> {
    const [latest, earliest] = await Promise.all([this.requestOffsets(tps, 'latest'), this.requestOffsets(tps, 'earliest')]);
    return { latest, earliest };
  }

  /**
   * The offsets of `tps` at each of `ats`, with the cluster's isolation level (so LSO under
   * read_committed): one metadata check, then one ListOffsets per leader and `at`, all in flight
   * at once (Kafka answers pipelined requests on a connection in order). An `at` is earliest,
   * latest or a timestamp in ms (offset of the first record with a timestamp at or after it, or
   * -1 when there is none below the latest offset). `targets`: the topics the metadata is kept for
   * (default: those of `tps`).
   */
  private async listOffsets(tps: TopicPartition[], ats: At[], targets?: string[]): Promise<Array<Map<string, bigint>>> {
    const topics = [...new Set(tps.map((tp) => tp.topic))];
    if (topics.length === 0) return ats.map(() => new Map<string, bigint>());
    const what = `ListOffsets(${ats.map((at) => (typeof at === 'bigint' ? `timestamp ${at}` : at)).join(', ')}) ${topics.join(',')}`;
    return this.retry(
      what,
      async () => {
        await this.refresh(targets ?? topics, false);
        let results: Array<Map<string, bigint>>;
        try {
          results = await Promise.all(ats.map((at) => this.requestOffsets(tps, at)));
        } catch (e) {
          throw await this.deletedTopicsError(e, topics);
        }
        // fetchTopicsOffset silently skips partitions missing from the cached metadata (new
        // partitions, stale snapshot): treat that as stale metadata and retry after a refresh.
        const missing = tps.filter((tp) => results.some((r) => !r.has(partitionKey(tp))));
        if (missing.length > 0) {
          throw new KafkaJSTopicMetadataNotLoaded(`no leader known for ${missing.map(partitionKey).join(',')}`, {
            topic: missing[0]?.topic ?? '',
          });
        }
        return results;
      },
      topics
    );
  }

  /** One ListOffsets per leader of the cached metadata; partitions it does not know are left out of the answer. */
  private async requestOffsets(tps: TopicPartition[], at: At): Promise<Map<string, bigint>> {
    const timestamp = at === 'earliest' ? EARLIEST : at === 'latest' ? LATEST : at.toString();
    // Routed by the metadata as it is now, before anything is awaited.
    const unique = new Map(tps.map((tp) => [partitionKey(tp), tp]));
    const { byLeader } = groupByLeader(this.cluster, unique.values(), (tp) => tp);
    const result = new Map<string, bigint>();
    await Promise.all(
      [...byLeader].map(async ([nodeId, led]) => {
        const topics = new Map<string, Array<{ partition: number; timestamp: number | string }>>();
        for (const { topic, partition } of led) {
          if (topics.has(topic)) topics.get(topic)?.push({ partition, timestamp });
          else topics.set(topic, [{ partition, timestamp }]);
        }
        const broker = await this.cluster.findBroker({ nodeId });
        const { responses } = await broker.listOffsets({
          isolationLevel: this.cluster.isolationLevel,
          topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
        });
        for (const t of responses) {
          for (const p of t.partitions) result.set(partitionKey({ topic: t.topic, partition: p.partition }), BigInt(p.offset));
        }
      })
    );
    return result;
  }

  /**
   * A ListOffsets error as thrown on: a topic deleted since the cached metadata was taken fails
   * with UNKNOWN_TOPIC_OR_PARTITION, and a topic listing tells a deleted topic
   * (`TopicNotFoundError` at once, no retries) from one that is only not everywhere yet (retried).
   */
  private async deletedTopicsError(e: unknown, topics: string[]): Promise<unknown> {
    if (!isUnknownTopic(e)) return e;
    const missing = await this.missingTopics(topics);
    return missing.length > 0 ? new TopicNotFoundError(missing) : e;
  }

  /**
   * Points the metadata at `topics` and refreshes it. A missing topic fails the whole Metadata
   * request and kafkajs names only the first, so on UNKNOWN_TOPIC_OR_PARTITION a full topic
   * listing decides: topics absent there are reported all at once; otherwise (a topic just
   * created, not yet everywhere) the error is retried.
   */
  private async refresh(topics: string[], force: boolean): Promise<void> {
    setTargetTopics(this.cluster, topics);
    try {
      await (force ? this.cluster.refreshMetadata() : this.cluster.refreshMetadataIfNecessary());
    } catch (e) {
      if (!isUnknownTopic(e)) throw e;
      const missing = await this.missingTopics(topics);
      if (missing.length > 0) throw new TopicNotFoundError(missing);
      throw e;
    }
  }

  private async missingTopics(topics: string[]): Promise<string[]> {
    const all = await this.allTopicsMetadata();
    const existing = new Set(all.topicMetadata.map((t) => t.topic));
    return topics.filter((t) => !existing.has(t));
  }

  /** Metadata of every topic, straight from a broker. */
  private async allTopicsMetadata(): Promise<KafkajsBrokerMetadata> {
    // An empty topic list asks for every topic (kafkajs encodes [] as null). `metadata()` returns
    // null instead of throwing when every broker failed: treat that as a connection problem.
    const all = (await this.cluster.metadata({ topics: [] })) as KafkajsBrokerMetadata | null;
    if (all === null) throw new KafkaJSConnectionError('no broker answered a topic listing');
    return all;
  }

  private retry<T>(operation: string, fn: () => Promise<T>, topics: string[]): Promise<T> {
    return withMetadataRetry({ operation, config: this.config, cluster: this.cluster, logger: this.logger, topics }, fn).catch(
      (e: unknown) => {
        throw isUnknownTopic(e) ? new TopicNotFoundError(topics) : toSluiceError(e, operation, this.config, topics);
      }
    );
  }

  private serial<T>(fn: () => Promise<T>, queue: 'offsets' | 'probe' = 'offsets'): Promise<T> {
    const run = this.queues[queue].then(fn, fn);
    this.queues[queue] = run.catch(() => undefined);
    return run;
  }
}

function hasBounds(bounds: OffsetBounds | undefined, key: string): boolean {
  return bounds !== undefined && bounds.latest.has(key) && bounds.earliest.has(key);
}

/**
 * The bounds of `wanted`, from the prefetched answers where they have them and the later ones for
 * the rest (each partition from exactly one answer, so its latest and earliest belong together).
 */
export function pickBounds(wanted: TopicPartition[], prefetched: OffsetBounds | undefined, asked: OffsetBounds | undefined): OffsetBounds {
  const latest = new Map<string, bigint>();
  const earliest = new Map<string, bigint>();
  for (const tp of wanted) {
    const key = partitionKey(tp);
    const from = hasBounds(prefetched, key) ? prefetched : asked;
    const l = from?.latest.get(key);
    const e = from?.earliest.get(key);
    if (l !== undefined) latest.set(key, l);
    if (e !== undefined) earliest.set(key, e);
  }
  return { latest, earliest };
}

/**
 * Connects an {@link OffsetOracle} for the driver.
 * @throws KafkaUnavailableError when no broker answers within about `2 × connectionTimeoutMs`.
 */
export async function createKafkajsOffsetOracle(config: KafkaClientConfig, logger: Logger): Promise<OffsetOracle> {
  const log = logger.child({ component: 'kafka-oracle' });
  registerCodecs();
  const cluster = createDirectCluster(config, log);
  await connectBounded(cluster, config);
  return new KafkajsOffsetOracle(cluster, config, log);
}
