import { KafkaJSTopicMetadataNotLoaded } from 'kafkajs';

import { DataLossError, KafkaUnavailableError, RangeNotVisibleError, isSluiceError } from '../../errors';
import type { Logger } from '../../logging';
import {
  partitionKey,
  type KafkaClientConfig,
  type OffsetRange,
  type RangeReader,
  type ReadOptions,
  type SourceRecord,
  type TopicPartition,
} from '../types';
import {
  READ_COMMITTED,
  READ_UNCOMMITTED,
  connectBounded,
  createDirectCluster,
  groupByLeader,
  partitionLeaders,
  setTargetTopics,
  type DirectBroker,
  type DirectCluster,
} from './direct-cluster';
import { abortReason, isOffsetOutOfRange, withMetadataRetry } from './kafka-errors';
import { registerCodecs } from './codecs';
import { applyFetch } from './fetch-step';
import { fetchUntil, type FetchedPartition, type FetchResponse } from './fetch-response';
import { ReadAhead } from './read-ahead';
import { learnBatchSizes, partitionFetchBytes, type BatchSizes } from './fetch-sizing';
import { SlotPool, type Slot } from './slot-pool';

/** Tuning and test hooks of {@link createKafkajsRangeReader}; the defaults suit production. */
export interface KafkajsRangeReaderOptions {
  /**
   * Consecutive fetches that return nothing at or after the read position before the visible-end
   * rule decides (finish over a trailing gap, or `RangeNotVisibleError`). Default 3.
   */
  maxEmptyPolls?: number;
  /** Called just before every Fetch request (tests count fetches with it). */
  onFetch?: (tp: TopicPartition, fetchOffset: bigint, slot: number) => void;
  /** Replaces the kafkajs Cluster of a slot (unit tests drive the reader against a fake broker). */
  createCluster?: () => DirectCluster;
  /**
   * Hold the next records of partitions whose ranges of at most `maxRangeRecords` were committed,
   * on a connection of its own (see {@link ReadAhead}). Default off.
   */
  readAhead?: { maxRangeRecords: number };
  /** Called with the number of records a read took from the read-ahead (the executor counts them in a metric). */
  onTakenAhead?: (records: number) => void;
}

interface OpenRead {
  range: OffsetRange;
  next: bigint;
  records: SourceRecord[];
}

/**
 * Reads exact offset ranges with a pool of kafkajs Clusters, one per concurrent task (see
 * {@link SlotPool}): one range at a time (`read`), or several small ones in one Fetch per
 * leader (`readAll`), each Fetch sized to what is left of its ranges ({@link partitionFetchBytes}).
 */
export class KafkajsRangeReader implements RangeReader {
  private readonly pool: SlotPool;
  /** What the batches of each partition read so far look like: sizes the next fetch (see {@link partitionFetchBytes}). */
  private readonly batchSizes = new Map<string, BatchSizes>();
  private readonly maxEmptyPolls: number;
  private readonly readAhead: ReadAhead | null;

  constructor(
    private readonly config: KafkaClientConfig,
    slots: number,
    private readonly logger: Logger,
    private readonly options: KafkajsRangeReaderOptions = {}
  ) {
    this.pool = new SlotPool(slots, () => this.connect());
    this.maxEmptyPolls = Math.max(1, options.maxEmptyPolls ?? 3);
    this.readAhead =
      options.readAhead !== undefined
        ? new ReadAhead(
            config,
            options.readAhead.maxRangeRecords,
            () => this.connect(),
            (broker, partitions, maxBytes) => this.fetchFrom(broker, partitions, maxBytes),
            logger,
            options.onTakenAhead
          )
        : null;
  }

  async *read(range: OffsetRange, options: ReadOptions = {}): AsyncGenerator<SourceRecord[], void, undefined> {
    if (range.fromOffset > range.untilOffset) {
      throw new RangeError(`${partitionKey(range)}: fromOffset ${range.fromOffset} > untilOffset ${range.untilOffset}`);
    }
    // An empty range is a no-op: no slot, no connection, no fetch.
    if (range.fromOffset === range.untilOffset) return;
    const { signal } = options;
    let from = range.fromOffset;
    // A retry reads afresh, without what was read ahead either.
    if (options.freshConnection === true) this.readAhead?.forget(range);
    else if (this.readAhead !== null) {
      const ahead = await this.readAhead.take(range, signal);
      if (ahead.records.length > 0) yield ahead.records;
      from = ahead.next;
    }
    if (from === range.untilOffset) return;
    const key = partitionKey(range);
    const slot = await this.pool.acquire(key, signal);
    let healthy = true;
    try {
      // Spark re-creates its cached consumer when a task is retried: the old connection may be the problem.
      if (options.freshConnection === true) await this.pool.dropCluster(slot);
      const cluster = await this.pool.clusterOf(slot);
      for await (const chunk of this.readOn(cluster, slot, { ...range, fromOffset: from }, signal)) yield chunk;
    } catch (e) {
      // Data loss and invisibility are facts about the log; anything else may be this connection.
      healthy = e instanceof DataLossError || e instanceof RangeNotVisibleError || signal?.aborted === true;
      throw e;
    } finally {
      if (!healthy) await this.pool.dropCluster(slot);
      this.pool.release(slot, key);
    }
  }

  committed(range: OffsetRange): void {
    if (range.fromOffset < range.untilOffset) this.readAhead?.follow(range);
  }

  async readAll(ranges: OffsetRange[], options: ReadOptions = {}): Promise<Map<string, SourceRecord[]>> {
    const done = new Map<string, SourceRecord[]>();
    const open = new Map<string, OpenRead>();
    for (const range of ranges) {
      if (range.fromOffset === range.untilOffset) done.set(partitionKey(range), []);
      else if (range.fromOffset < range.untilOffset) open.set(partitionKey(range), { range, next: range.fromOffset, records: [] });
    }
    const { signal } = options;
    if (this.readAhead !== null) await this.takeAhead(open, done, options);
    const first = open.keys().next();
    if (first.done === true) return done;
    const slot = await this.pool.acquire(first.value, signal);
    let healthy = true;
    try {
      if (options.freshConnection === true) await this.pool.dropCluster(slot);
      const cluster = await this.pool.clusterOf(slot);
      setTargetTopics(cluster, [...new Set([...open.values()].map((o) => o.range.topic))]);
      await cluster.refreshMetadataIfNecessary();
      // A range still open after a few rounds (empty polls: a gap at its end, an invisible range) is
      // left to read(), which applies the visible-end rule.
      for (let round = 0; round < this.maxEmptyPolls && open.size > 0; round++) {
        signal?.throwIfAborted();
        const { byLeader, leaderless } = groupByLeader(cluster, open.values(), (o) => o.range);
        for (const o of leaderless) open.delete(partitionKey(o.range));
        await Promise.all(
          [...byLeader].map(async ([nodeId, reads]) => {
            for (const o of reads) this.options.onFetch?.(o.range, o.next, slot.index);
            const response = await this.fetchFrom(
              await cluster.findBroker({ nodeId }),
              reads.map((o) => ({ ...o.range, fetchOffset: o.next }))
            );
            const fetchedByKey = new Map<string, FetchedPartition>();
            for (const t of response.responses) for (const p of t.partitions) fetchedByKey.set(`${t.topicName}:${p.partition}`, p);
            for (const o of reads) {
              const fetched = fetchedByKey.get(partitionKey(o.range));
              if (fetched === undefined) continue;
              const step = applyFetch(o.range, o.next, fetched, this.config.isolation);
              for (const record of step.records) o.records.push(record);
              o.next = step.next;
              if (o.next >= o.range.untilOffset) {
                open.delete(partitionKey(o.range));
                done.set(partitionKey(o.range), o.records);
              }
            }
          })
        );
      }
    } catch (e) {
      if (signal?.aborted === true) throw e;
      // What was read completely stands; the rest is read range by range, which reports the error.
      healthy = false;
      this.logger.debug({ err: (e as Error).message, ranges: open.size }, 'read of several ranges incomplete; reading the rest one by one');
    } finally {
      if (!healthy) await this.pool.dropCluster(slot);
      this.pool.release(slot, first.value);
    }
    return done;
  }

  /** Moves what the read-ahead holds of `open` ranges into them; those it holds completely are `done`. */
  private async takeAhead(open: Map<string, OpenRead>, done: Map<string, SourceRecord[]>, options: ReadOptions): Promise<void> {
    const readAhead = this.readAhead as ReadAhead;
    if (options.freshConnection === true) {
      for (const o of open.values()) readAhead.forget(o.range);
      return;
    }
    await Promise.all(
      [...open].map(async ([key, o]) => {
        const ahead = await readAhead.take(o.range, options.signal);
        o.records = ahead.records;
        o.next = ahead.next;
        if (o.next < o.range.untilOffset) return;
        open.delete(key);
        done.set(key, o.records);
      })
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.readAhead?.close()]);
  }

  private async *readOn(
    cluster: DirectCluster,
    slot: Slot,
    range: OffsetRange,
    signal: AbortSignal | undefined
  ): AsyncGenerator<SourceRecord[], void, undefined> {
    const { topic, partition, untilOffset } = range;
    const { config } = this;
    const log = this.logger.child({ topic, partition, slot: slot.index });
    // Metadata for this topic only: kafkajs never forgets target topics, and one deleted topic
    // would otherwise break every later refresh on this slot.
    setTargetTopics(cluster, [topic]);
    let next = range.fromOffset;
    let emptyPolls = 0;
    const fetchAt = (fetchOffset: bigint): Promise<FetchedPartition> =>
      withMetadataRetry(
        {
          operation: `Fetch ${topic}-${partition}@${fetchOffset}`,
          config,
          cluster,
          logger: log,
          signal,
          topics: [topic],
        },
        () => this.fetchOnce(cluster, slot, range, fetchOffset)
      );
    // Read-ahead of one fetch: while the caller processes and commits the records of a response,
    // the next one is already on its way. Memory stays bounded by two fetch responses.
    let prefetched: { offset: bigint; response: Promise<FetchedPartition> } | null = null;
    try {
      while (next < untilOffset) {
        signal?.throwIfAborted();
        const fetchOffset = next;
        const pending: Promise<FetchedPartition> =
          prefetched !== null && prefetched.offset === fetchOffset ? prefetched.response : fetchAt(fetchOffset);
        prefetched = null;
        const fetched = await pending;
        const step = applyFetch(range, fetchOffset, fetched, config.isolation);
        if (step.progressed && step.next < untilOffset && signal?.aborted !== true) {
          const at = step.next;
          // Sent on the next macrotask, once the caller has taken the records (and perhaps
          // aborted), so a cancelled read sends nothing more.
          const response = new Promise<FetchedPartition>((resolve, reject) => {
            setImmediate(() => {
              if (signal?.aborted === true) reject(abortReason(signal));
              else fetchAt(at).then(resolve, reject);
            });
          });
          // Awaited on the next turn; until then (or if the caller stops early) a failure must not go unhandled.
          response.catch(() => undefined);
          prefetched = { offset: at, response };
        }
        if (step.records.length > 0) yield step.records;
        if (step.progressed) {
          next = step.next;
          emptyPolls = 0;
          continue;
        }
        // Not an empty poll: the next fetch asks for partitionMaxBytes, which the broker answers with a whole batch.
        if (fetched.cutByLimit === true) continue;
        if (++emptyPolls < this.maxEmptyPolls) continue;
        // Nothing at or after `next` although the range is not done: the visible end decides.
        if (step.visibleEnd >= untilOffset) {
          // The rest of the range is a gap no returned batch covers, e.g. records the log cleaner
          // removed together with their batch at the end of the log.
          log.debug({ next: next.toString(), until: untilOffset.toString() }, 'range ends in an invisible gap');
          return;
        }
        throw new RangeNotVisibleError(topic, partition, untilOffset, step.visibleEnd);
      }
    } finally {
      // A caller that stops early (or a failure) leaves at most one fetch in flight: let it settle
      // before the slot (and its connection) goes to another task.
      if (prefetched !== null) await prefetched.response.catch(() => undefined);
    }
  }

  private async fetchOnce(cluster: DirectCluster, slot: Slot, range: OffsetRange, fetchOffset: bigint): Promise<FetchedPartition> {
    const { topic, partition } = range;
    await cluster.refreshMetadataIfNecessary();
    const nodeId = partitionLeaders(cluster, topic).get(partition);
    if (nodeId === undefined) {
      throw new KafkaJSTopicMetadataNotLoaded(`no leader known for ${topic}-${partition}`, { topic });
    }
    const broker = await cluster.findBroker({ nodeId });
    this.options.onFetch?.({ topic, partition }, fetchOffset, slot.index);
    try {
      const res = await this.fetchFrom(broker, [{ ...range, fetchOffset }]);
      const p = res.responses.find((t) => t.topicName === topic)?.partitions.find((x) => x.partition === partition);
      if (p === undefined) {
        throw new KafkaJSTopicMetadataNotLoaded(`fetch response without ${topic}-${partition}`, { topic });
      }
      return p;
    } catch (e) {
      // Never reset silently (kafkajs's consumer jumps to earliest/latest here): Spark fails the task.
      if (isOffsetOutOfRange(e)) {
        const why = 'offset out of range: deleted by retention or the log was truncated';
        throw new DataLossError(topic, partition, fetchOffset, why);
      }
      throw e;
    }
  }

  /**
   * One Fetch request to `broker` for the given partitions, each from its offset, decoded up to the
   * range's end. Each partition asks for about what is left of its range (see
   * {@link partitionFetchBytes}); one that got nothing because of that asks for the full
   * `partitionMaxBytes` next time.
   */
  private async fetchFrom(
    broker: DirectBroker,
    partitions: Array<OffsetRange & { fetchOffset: bigint }>,
    maxBytes = this.config.fetchMaxBytes
  ): Promise<FetchResponse> {
    const topics = new Map<string, Array<{ partition: number; fetchOffset: string; maxBytes: number }>>();
    const until = new Map<string, bigint>();
    const limited = new Map<string, bigint>();
    for (const p of partitions) {
      const key = partitionKey(p);
      until.set(key, p.untilOffset);
      const partitionBytes = partitionFetchBytes(this.batchSizes.get(key), p.untilOffset - p.fetchOffset, this.config.partitionMaxBytes);
      if (partitionBytes < this.config.partitionMaxBytes) limited.set(key, p.fetchOffset);
      const list = topics.get(p.topic) ?? [];
      list.push({ partition: p.partition, fetchOffset: p.fetchOffset.toString(), maxBytes: partitionBytes });
      topics.set(p.topic, list);
    }
    const response = await fetchUntil(
      broker,
      {
        isolationLevel: this.config.isolation === 'read_committed' ? READ_COMMITTED : READ_UNCOMMITTED,
        maxWaitTime: this.config.fetchMaxWaitMs,
        minBytes: 1,
        maxBytes,
        topics: [...topics].map(([topic, list]) => ({ topic, partitions: list })),
      },
      until
    );
    for (const t of response.responses) {
      for (const p of t.partitions) {
        const key = `${t.topicName}:${p.partition}`;
        const fetchOffset = limited.get(key);
        // A limit below the batch holding the fetch offset returns that batch cut: bytes, no batch.
        const cut = fetchOffset !== undefined && p.recordSetBytes > 0 && !p.batches.some((b) => b.lastOffset >= fetchOffset);
        if (cut) {
          this.batchSizes.delete(key);
          p.cutByLimit = true;
        } else learnBatchSizes(this.batchSizes, key, p.batches);
      }
    }
    return response;
  }

  private async connect(): Promise<DirectCluster> {
    const cluster = this.options.createCluster?.() ?? createDirectCluster(this.config, this.logger);
    try {
      await connectBounded(cluster, this.config);
    } catch (e) {
      if (isSluiceError(e)) throw e;
      throw new KafkaUnavailableError(`cannot connect to Kafka brokers ${this.config.brokers.join(',')}`, e);
    }
    return cluster;
  }
}

/**
 * A {@link RangeReader} with `slots` kafkajs Clusters (one per concurrent task), connected lazily.
 * More concurrent reads than slots wait for a free slot.
 */
export function createKafkajsRangeReader(
  config: KafkaClientConfig,
  slots: number,
  logger: Logger,
  options?: KafkajsRangeReaderOptions
): RangeReader {
  registerCodecs();
  return new KafkajsRangeReader(config, slots, logger.child({ component: 'kafka-reader' }), options);
}
