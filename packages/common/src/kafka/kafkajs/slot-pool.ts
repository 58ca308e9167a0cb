import { KafkaUnavailableError } from '../../errors';
import type { DirectCluster } from './direct-cluster';
import { abortReason } from './kafka-errors';

/** What the pool needs of a Cluster. */
type Connection = Pick<DirectCluster, 'disconnect'>;

/** One kafkajs Cluster of the pool, connected lazily. */
export interface Slot<C extends Connection = DirectCluster> {
  readonly index: number;
  cluster: C | null;
  busy: boolean;
  lastUsed: number;
}

/**
 * The range reader's pool of kafkajs Clusters, one per concurrent task. kafkajs sends every Fetch of
 * a Cluster to a broker over one connection, one at a time, so sharing a Cluster between tasks would
 * serialise them. A partition goes back to the idle slot that served it last, which keeps its broker
 * connection and metadata warm across batches.
 */
export class SlotPool<C extends Connection = DirectCluster> {
  private readonly slots: Array<Slot<C>>;
  /** partitionKey → index of the slot that last served it. */
  private readonly affinity = new Map<string, number>();
  private readonly waiters: Array<() => void> = [];
  private closed = false;

  constructor(
    size: number,
    private readonly connect: () => Promise<C>
  ) {
    const n = Math.max(1, Math.floor(size));
    this.slots = Array.from({ length: n }, (_, index) => ({ index, cluster: null, busy: false, lastUsed: 0 }));
  }

  /** The slot's Cluster, connected on first use. */
  async clusterOf(slot: Slot<C>): Promise<C> {
    slot.cluster ??= await this.connect();
    return slot.cluster;
  }

  /** Disconnects the slot's Cluster: its next use connects afresh. */
  async dropCluster(slot: Slot<C>): Promise<void> {
    const old = slot.cluster;
    slot.cluster = null;
    if (old !== null) await old.disconnect().catch(() => undefined);
  }

  /** A slot for reading `key`'s partition, waiting while every slot is busy. */
  async acquire(key: string, signal: AbortSignal | undefined): Promise<Slot<C>> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.closed) throw new KafkaUnavailableError('the Kafka range reader is closed');
      const slot = this.pick(key);
      if (slot !== undefined) {
        slot.busy = true;
        return slot;
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(abortReason(signal));
        };
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** The idle slot that served `key` last, else the least recently used idle slot. */
  private pick(key: string): Slot<C> | undefined {
    const preferred = this.affinity.get(key);
    if (preferred !== undefined) {
      const slot = this.slots[preferred];
      if (slot !== undefined && !slot.busy) return slot;
    }
    let best: Slot<C> | undefined;
    for (const s of this.slots) {
      if (!s.busy && (best === undefined || s.lastUsed < best.lastUsed)) best = s;
    }
    return best;
  }

  /** Gives the slot back; it remembers `key`, and the longest waiter gets a slot. */
  release(slot: Slot<C>, key: string): void {
    slot.busy = false;
    slot.lastUsed = Date.now();
    this.affinity.set(key, slot.index);
    this.waiters.shift()?.();
  }

  /** Fails every later acquire, wakes the waiting ones (to fail) and disconnects every Cluster. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.slots.map((s) => this.dropCluster(s)));
  }
}
