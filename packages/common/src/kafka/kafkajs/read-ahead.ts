// About 400 lines as one class: the followed partitions, the bytes held and the Fetch pump are one
// state machine whose bounds (memory, one Fetch per leader at a time) hold only together.
import type { Logger } from '../../logging';
import { partitionKey, type KafkaClientConfig, type OffsetRange, type SourceRecord, type TopicPartition } from '../types';
import { groupByLeader, setTargetTopics, type DirectBroker, type DirectCluster } from './direct-cluster';
import { abortReason } from './kafka-errors';
import type { FetchResponse } from './fetch-response';
import { applyFetch } from './fetch-step';

/** One Fetch of the read-ahead: partitions from their offsets, decoded up to `untilOffset`, at most `maxBytes` in all. */
export type ReadAheadFetch = (
  broker: DirectBroker,
  partitions: Array<OffsetRange & { fetchOffset: bigint }>,
  maxBytes: number
) => Promise<FetchResponse>;

/** What {@link ReadAhead.take} found of a range: its first records, and where reading the rest starts. */
export interface TakenAhead {
  records: SourceRecord[];
  /** `untilOffset` when the read-ahead held the whole range; otherwise the offset to read on from. */
  next: bigint;
}

/**
 * One Fetch response's share of what is held. Held records are views into the response they came
 * in, so the memory they keep is the whole response until the last of them is taken.
 */
interface HeldResponse {
  /** Record bytes of the whole response (all its partitions), as on the wire. */
  readonly bytes: number;
  /** Chunks of held records that still point into it. */
  chunks: number;
}

interface HeldChunk {
  records: SourceRecord[];
  readonly response: HeldResponse;
}

interface Followed {
  readonly tp: TopicPartition;
  /** Where the partition's next range is expected to start: the end of the last range committed. */
  position: bigint;
  /** The visible records at offsets [position, end), exactly as the log holds them, in offset order. */
  chunks: HeldChunk[];
  /** One past everything read ahead (gaps included): where the next read-ahead Fetch starts. */
  end: bigint;
  /** Offsets to hold ahead of `position`: twice the last range's length, so about two batches. */
  window: bigint;
  /** Wire bytes per record of what was read ahead: the per-partition bound counts in these. */
  bytesPerRecord: number;
  /** The read-ahead Fetch in flight for this partition (at `end`); it never rejects. */
  pending: Promise<void> | null;
  lastCommit: number;
  /** Dropped when no range was committed for this long: three of its gaps between commits, at least MIN_IDLE_MS. */
  idleLimitMs: number;
}

/** A partition not read for this long (at least) has moved to another executor, or its topic is gone. */
const MIN_IDLE_MS = 10_000;
/**
 * The read-ahead Fetch waits this long after a commit, so that it does not take CPU from the tasks
 * of the batch still running (here and on the other executors) and from the driver's batch commit;
 * waiting longer gained nothing (figures: docs/benchmarks.md, "Figures behind design choices").
 */
const AFTER_COMMIT_DELAY_MS = 5;
/** After a failed read-ahead Fetch: the tasks read on their own, which reports the error properly. */
const FAILURE_BACKOFF_MS = 1000;

/**
 * Read-ahead of the partitions an executor reads, as Kafka's consumer prefetches (and Spark's cached
 * consumer gets from it). Placement is sticky, so once this executor committed `[from, until)` of a
 * partition, its next range most likely starts at `until` here. A Fetch at `until`, on a connection
 * of its own, runs while the driver commits the batch and plans the next one: for a backlog its
 * records are there already; for a live stream the broker holds the Fetch (`fetchMaxWaitMs`) and
 * answers as records arrive, before the plan that includes them. The next task of the partition
 * then takes its records from memory instead of waiting on a Fetch.
 *
 * Exactness does not change: what is held is what a Fetch at `end` returned, decoded by the same
 * {@link applyFetch} as a task's own read, and it is used only by a range that starts exactly at
 * `position`. A range that starts elsewhere (a replay, a retry, a range that moved here) is read as
 * before, and the partition is followed from that range's end.
 *
 * Memory: only partitions whose last range had at most `maxRangeRecords` are followed; per partition
 * at most twice that range's offsets and `partitionMaxBytes`, in all at most `fetchMaxBytes`. A
 * partition not committed here for a while (it moved to another executor) is dropped.
 */
export class ReadAhead {
  private readonly followed = new Map<string, Followed>();
  /** Leaders with a read-ahead Fetch in flight: Kafka answers one connection's requests in order, so one at a time each. */
  private readonly busyLeaders = new Set<string>();
  /** Bytes of the responses that held records point into, and the byte limits of the Fetches in flight. */
  private heldBytes = 0;
  private inFlightBytes = 0;
  private cluster: DirectCluster | null = null;
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private readonly expiryTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly config: KafkaClientConfig,
    /**
     * Longer ranges are not followed. Such a task spends most of its time processing and
     * committing, while its own read keeps one Fetch ahead (see the range reader); holding its
     * next range as well cost throughput, and held more records for the GC to trace (figures:
     * docs/benchmarks.md, "Figures behind design choices").
     */
    private readonly maxRangeRecords: number,
    private readonly connect: () => Promise<DirectCluster>,
    private readonly fetch: ReadAheadFetch,
    private readonly logger: Logger,
    /** Called with the number of records each take handed out (the executor counts them in a metric). */
    private readonly onTaken?: (records: number) => void
  ) {
    this.expiryTimer = setInterval(() => this.expire(Date.now()), MIN_IDLE_MS / 2);
    this.expiryTimer.unref();
  }

  /**
   * The records of `range` held ahead, from its start. When the partition's read-ahead Fetch is in
   * flight and what is held does not reach `untilOffset`, waits for it: the records of the range are
   * in the log already (the plan saw them), so the broker answers it at once. Not longer than
   * `fetchMaxWaitMs`, though (a connection that hangs): then the task reads the rest itself.
   */
  async take(range: OffsetRange, signal?: AbortSignal): Promise<TakenAhead> {
    const key = partitionKey(range);
    const none: TakenAhead = { records: [], next: range.fromOffset };
    let f = this.followed.get(key);
    if (f === undefined || f.position !== range.fromOffset) return none;
    if (f.end < range.untilOffset && f.pending !== null) await settledWithin(f.pending, this.config.fetchMaxWaitMs, signal);
    f = this.followed.get(key);
    if (f === undefined || f.position !== range.fromOffset) return none;
    const records = this.takeBelow(f, range.untilOffset);
    if (records.length > 0) this.onTaken?.(records.length);
    if (f.end >= range.untilOffset) {
      f.position = range.untilOffset;
      return { records, next: range.untilOffset };
    }
    // The rest is read as a task reads; following resumes at the range's end (see follow).
    this.unfollow(key);
    return { records, next: f.end };
  }

  /**
   * `range` was committed on this executor: hold the partition's records from its end on, if the
   * range was short (`maxRangeRecords`). The Fetch goes out {@link AFTER_COMMIT_DELAY_MS} later,
   * for all ranges committed meanwhile.
   */
  follow(range: OffsetRange): void {
    if (this.closed) return;
    const key = partitionKey(range);
    const now = Date.now();
    const until = range.untilOffset;
    const length = until - range.fromOffset;
    if (length > BigInt(this.maxRangeRecords)) {
      this.unfollow(key);
      return;
    }
    let f = this.followed.get(key);
    if (f !== undefined && until >= f.position && until <= f.end) {
      this.takeBelow(f, until);
      f.position = until;
      f.idleLimitMs = Math.max(MIN_IDLE_MS, 3 * (now - f.lastCommit));
    } else {
      const lastCommit = f?.lastCommit ?? now;
      // A Fetch still in flight for the old entry is ignored when it lands (see fetchFrom).
      this.unfollow(key);
      f = {
        tp: { topic: range.topic, partition: range.partition },
        position: until,
        chunks: [],
        end: until,
        window: 0n,
        bytesPerRecord: 0,
        pending: null,
        lastCommit: now,
        idleLimitMs: Math.max(MIN_IDLE_MS, 3 * (now - lastCommit)),
      };
      this.followed.set(key, f);
    }
    f.lastCommit = now;
    if (length > 0n) f.window = 2n * length;
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setTimeout(() => {
      this.pumpScheduled = false;
      this.pump();
    }, AFTER_COMMIT_DELAY_MS).unref();
  }

  /** Forgets what is held of `tp` (a retry reads afresh, as Spark re-creates its consumer). */
  forget(tp: TopicPartition): void {
    this.unfollow(partitionKey(tp));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.expiryTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    for (const key of [...this.followed.keys()]) this.unfollow(key);
    const cluster = this.cluster;
    this.cluster = null;
    if (cluster !== null) await cluster.disconnect().catch(() => undefined);
  }

  /** Removes and returns the held records of `f` below `until` (all of them sit at or after its position). */
  private takeBelow(f: Followed, until: bigint): SourceRecord[] {
    const taken: SourceRecord[] = [];
    while (f.chunks.length > 0) {
      const chunk = f.chunks[0] as HeldChunk;
      let n = 0;
      while (n < chunk.records.length && (chunk.records[n] as SourceRecord).offset < until) n++;
      for (let i = 0; i < n; i++) taken.push(chunk.records[i] as SourceRecord);
      if (n < chunk.records.length) {
        chunk.records = chunk.records.slice(n);
        break;
      }
      f.chunks.shift();
      this.release(chunk.response);
    }
    return taken;
  }

  private unfollow(key: string): void {
    const f = this.followed.get(key);
    if (f === undefined) return;
    this.followed.delete(key);
    for (const chunk of f.chunks) this.release(chunk.response);
    f.chunks = [];
  }

  private release(response: HeldResponse): void {
    if (--response.chunks === 0) this.heldBytes -= response.bytes;
  }

  /** Sends a read-ahead Fetch to every leader without one in flight, for its partitions below their bounds. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumpOnce()
      .catch((e: unknown) => this.failed(e, []))
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  private async pumpOnce(): Promise<void> {
    if (this.closed || this.retryTimer !== null || this.wanted().length === 0) return;
    const cluster = await this.clusterOf();
    setTargetTopics(cluster, new Set([...this.followed.values()].map((f) => f.tp.topic)));
    await cluster.refreshMetadataIfNecessary();
    // Closed, or a failure dropped the connection meanwhile (a metadata refresh may have reopened it).
    if (this.closed || cluster !== this.cluster) {
      await cluster.disconnect().catch(() => undefined);
      return;
    }
    // Chosen after the awaits and sent without another: a commit meanwhile may have moved a
    // partition's position or shrunk its window, and each Fetch must start below its window's end.
    const wanted = this.wanted();
    const { byLeader } = groupByLeader(cluster, wanted, (f) => f.tp);
    const idle = [...byLeader].filter(([nodeId]) => !this.busyLeaders.has(nodeId));
    const room = this.config.fetchMaxBytes - this.heldBytes - this.inFlightBytes;
    if (idle.length === 0 || room <= 0) return;
    // The room is shared by the Fetches sent now: together they stay within fetchMaxBytes.
    const maxBytes = Math.max(1, Math.floor(room / idle.length));
    for (const [nodeId, partitions] of idle) {
      this.busyLeaders.add(nodeId);
      this.inFlightBytes += maxBytes;
      const fetched = this.fetchFrom(cluster, nodeId, partitions, maxBytes).finally(() => {
        this.busyLeaders.delete(nodeId);
        this.inFlightBytes -= maxBytes;
        for (const f of partitions) if (f.pending === fetched) f.pending = null;
        this.pump();
      });
      for (const f of partitions) f.pending = fetched;
    }
  }

  /** Followed partitions without a Fetch in flight that hold less than their window and partitionMaxBytes. */
  private wanted(): Followed[] {
    const wanted: Followed[] = [];
    for (const f of this.followed.values()) {
      if (f.pending !== null || f.end - f.position >= f.window) continue;
      let held = 0;
      for (const chunk of f.chunks) held += chunk.records.length;
      if (held * f.bytesPerRecord < this.config.partitionMaxBytes) wanted.push(f);
    }
    return wanted;
  }

  private async fetchFrom(cluster: DirectCluster, nodeId: string, partitions: Followed[], maxBytes: number): Promise<void> {
    // `until > at` for each: wanted() chose them with end - position < window.
    const sent = new Map(partitions.map((f) => [partitionKey(f.tp), { f, at: f.end, until: f.position + f.window }]));
    const started = Date.now();
    try {
      const broker = await cluster.findBroker({ nodeId });
      const response = await this.fetch(
        broker,
        [...sent.values()].map((s) => ({ ...s.f.tp, fromOffset: s.at, untilOffset: s.until, fetchOffset: s.at })),
        maxBytes
      );
      let bytes = 0;
      for (const t of response.responses) for (const p of t.partitions) bytes += p.recordSetBytes;
      const held: HeldResponse = { bytes, chunks: 0 };
      let progressed = false;
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const s = sent.get(`${t.topicName}:${p.partition}`);
          // Only what continues the partition's records exactly is kept (it may have moved on meanwhile).
          if (s === undefined || this.closed || this.followed.get(partitionKey(s.f.tp)) !== s.f || s.f.end !== s.at) continue;
          const step = applyFetch({ ...s.f.tp, fromOffset: s.at, untilOffset: s.until }, s.at, p, this.config.isolation);
          if (!step.progressed) continue;
          progressed = true;
          // Records at or past `until` were decoded no further: what is held ends there.
          s.f.end = step.next < s.until ? step.next : s.until;
          if (step.records.length === 0) continue;
          s.f.chunks.push({ records: step.records, response: held });
          held.chunks++;
          s.f.bytesPerRecord = Math.max(1, p.recordSetBytes / step.records.length);
        }
      }
      if (held.chunks > 0) this.heldBytes += held.bytes;
      // A broker that answers at once with nothing new (no long poll) is not asked again right away.
      if (!progressed && Date.now() - started < this.config.fetchMaxWaitMs / 2) this.backOff(this.config.fetchMaxWaitMs);
    } catch (e) {
      this.failed(e, partitions);
    }
  }

  /**
   * A failed read-ahead Fetch: its partitions are dropped (their tasks read them, which reports the
   * error properly), and so is the connection. One partition's error fails the whole response
   * (kafkajs parses it so), which is why all of them go.
   */
  private failed(e: unknown, partitions: Followed[]): void {
    if (this.closed) return;
    this.logger.debug(
      { err: e instanceof Error ? e.message : String(e), partitions: partitions.length },
      'read-ahead fetch failed; those partitions are read by their tasks'
    );
    for (const f of partitions) if (this.followed.get(partitionKey(f.tp)) === f) this.unfollow(partitionKey(f.tp));
    const cluster = this.cluster;
    this.cluster = null;
    if (cluster !== null) void cluster.disconnect().catch(() => undefined);
    this.backOff(FAILURE_BACKOFF_MS);
  }

  /** No read-ahead Fetch for `ms` (a later deadline replaces an earlier one). */
  private backOff(ms: number): void {
    if (this.closed) return;
    const at = Date.now() + ms;
    if (this.retryTimer !== null) {
      if (at <= this.retryAt) return;
      clearTimeout(this.retryTimer);
    }
    this.retryAt = at;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, ms);
    this.retryTimer.unref();
  }

  private async clusterOf(): Promise<DirectCluster> {
    if (this.cluster !== null) return this.cluster;
    const cluster = await this.connect();
    // Closed while connecting: nobody else would ever disconnect it.
    if (this.closed) {
      await cluster.disconnect().catch(() => undefined);
      throw new Error('the read-ahead is closed');
    }
    this.cluster = cluster;
    return cluster;
  }

  private expire(now: number): void {
    for (const [key, f] of [...this.followed]) if (now - f.lastCommit > f.idleLimitMs) this.unfollow(key);
  }
}

/** Waits for `settled` (which never rejects) at most `ms`; rejects when `signal` aborts first. */
function settledWithin(settled: Promise<void>, ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    void settled.then(done);
  });
}
