import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { abortableWait } from './wait';
import type { CheckpointStore } from './checkpoint/store';
import type { ScriptedRedis } from './checkpoint/scripts';
import { jobKeys } from './checkpoint/keys';
import { asRedisOutage } from './checkpoint/outage';
import { isDependencyOutage, LeaseHeldError } from './errors';
import type { Logger } from './logging';

/** How long a driver waiting for the lease waits after finding Redis unavailable. */
const REDIS_RETRY_MS = 1000;

/** Who holds a job's leader lease, and for how much longer. */
export interface LeaseHolder {
  owner: string;
  ttlMs: number;
}

/** Reads the leader lease of `job` (null when no driver holds it). */
export async function readLeaseHolder(redis: Redis, job: string): Promise<LeaseHolder | null> {
  const key = jobKeys(job).leader;
  const [owner, ttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
  return owner === null ? null : { owner, ttlMs: Math.max(0, ttl) };
}

/**
 * Where the leading driver is reached: published by the leader next to its lease
 * (`sluice:{job}:leader:info`, renewed and expiring with it), so executors find the Driver
 * service and standbys the HTTP server of the driver that leads.
 */
export interface LeaderInfo {
  /** The driver's id: the lease owner. */
  id: string;
  /** Its HTTP server (UI, JSON API), e.g. `http://10.0.0.7:4040`. */
  httpUrl: string;
  /** Its Driver gRPC service, `host:port`. */
  grpcAddress: string;
  epoch: string;
  /** When it took the lease (ms since the Unix epoch). */
  since: number;
}

/** The driver holding a job's leader lease, with where it is reached once it published that. */
export interface Leader {
  id: string;
  info: LeaderInfo | undefined;
}

/**
 * The driver holding the leader lease of `job` (null when none does). Its info counts only when it
 * names the lease owner: what a previous owner wrote lapses with its lease, but is never taken for
 * the new one's.
 */
export async function readLeader(redis: Redis, job: string): Promise<Leader | null> {
  const keys = jobKeys(job);
  const [owner, raw] = await redis.mget(keys.leader, keys.leaderInfo);
  if (owner === null || owner === undefined) return null;
  return { id: owner, info: parseLeaderInfo(raw ?? null, owner) };
}

function parseLeaderInfo(raw: string | null, owner: string): LeaderInfo | undefined {
  if (raw === null) return undefined;
  try {
    const info = JSON.parse(raw) as Partial<LeaderInfo>;
    const complete = typeof info.httpUrl === 'string' && typeof info.grpcAddress === 'string';
    return info.id === owner && complete ? (info as LeaderInfo) : undefined;
  } catch {
    return undefined;
  }
}

/** What a driver hears from its lease after taking it. */
export interface LeaseEvents {
  /** Another driver took the lease (or it expired and could not be taken again). */
  lost(owner: string | null): void;
  /** A renewal failed for a reason trying again cannot cure (e.g. the ACL user may not run the script). */
  failed(error: Error): void;
}

/**
 * The leader lease of a job: `SET sluice:{job}:leader <driverId> PX ttl NX` at start, renewed every
 * ttl/3 while its owner lives (compare-and-pexpire), deleted on a clean stop (compare-and-delete).
 * Each renewal also writes the owner's {@link LeaderInfo}, once published, with the same TTL.
 * It tells operators, standbys and executors which driver leads; correctness never depends on it
 * (the epoch fences a stale driver regardless).
 */
export class LeaderLease {
  private timer: NodeJS.Timeout | undefined;
  private owned = false;
  /** What each renewal writes to the leader info key ('' until {@link publish}). */
  private info = '';
  private renewal: { epoch: string; events: LeaseEvents } | undefined;
  /** The renewal in flight: one at a time (see {@link startRenewing}). */
  private renewing: Promise<void> | undefined;
  /** When the lease lapses unless renewed (performance.now() ms): counted from when the last SET or renewal was sent. */
  private expiresAt = 0;

  constructor(
    private readonly store: CheckpointStore,
    readonly driverId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger
  ) {}

  /** This driver holds the lease now: taken, and taken or renewed less than a TTL ago. */
  get held(): boolean {
    return this.owned && performance.now() < this.expiresAt;
  }

  private get redis(): ScriptedRedis {
    return this.store.client as ScriptedRedis;
  }

  private get key(): string {
    return this.store.keys.leader;
  }

  /**
   * Takes the lease. A lease left by a driver that died expires within its TTL, so this waits up to
   * one TTL for it; a lease still held after that is renewed by a live driver. A standby waits for as
   * long as that driver lives, until `signal` aborts.
   * @returns false when `signal` aborted the wait.
   * @throws LeaseHeldError when another live driver holds it (not a standby).
   */
  async acquire(standby = false, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + this.ttlMs + 500;
    let announced: string | undefined;
    for (;;) {
      if (signal?.aborted) return false;
      let holder: LeaseHolder | null;
      try {
        if (await this.take()) return true;
        holder = await readLeaseHolder(this.redis, this.store.job);
      } catch (e) {
        // Redis restarting is no reason to stop waiting: a standby must outlive the outage to take over.
        const outage = asRedisOutage(e);
        if (!isDependencyOutage(outage)) throw outage;
        this.logger.warn({ err: (outage as Error).message }, 'Redis is unavailable while waiting for the leader lease; retrying');
        await abortableWait(REDIS_RETRY_MS, signal);
        continue;
      }
      if (holder === null) continue;
      if (!standby && Date.now() >= deadline) throw new LeaseHeldError(this.store.job, holder.owner);
      if (announced !== holder.owner) {
        this.logger.warn(
          { holder: holder.owner, ttlMs: holder.ttlMs },
          standby
            ? 'standing by: another driver leads; taking over when its lease lapses'
            : 'leader lease held by another driver; waiting for it to expire'
        );
        announced = holder.owner;
      }
      // Polled often enough that a standby takes over within a small fraction of the TTL.
      await abortableWait(Math.min(250, holder.ttlMs + 10), signal);
    }
  }

  /** `SET ... NX`: true when this driver took the lease. */
  private async take(): Promise<boolean> {
    const sent = performance.now();
    if ((await this.redis.set(this.key, this.driverId, 'PX', this.ttlMs, 'NX')) !== 'OK') return false;
    this.owned = true;
    this.expiresAt = sent + this.ttlMs;
    return true;
  }

  /**
   * Renews every ttl/3; tells `events` once if another driver took the lease, or if a renewal
   * failed for a reason other than Redis being unreachable (then the lease is given up). While
   * Redis cannot be reached renewals go on, and the lease lapses once they failed for a TTL.
   * @param epoch the epoch this driver took under the lease: an expired lease is taken again only
   *   while no other driver has taken a newer epoch since (one that led and stopped meanwhile).
   */
  startRenewing(epoch: string, events: LeaseEvents): void {
    this.renewal = { epoch, events };
    // One renewal at a time. While Redis is down each one waits for its reconnection attempts,
    // longer than the interval; renewals started meanwhile would all find the lease expired once
    // Redis is back, one would take it again and the others, finding it taken, would report it lost.
    this.timer = setInterval(() => void this.renewNow(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /**
   * Publishes where this driver is reached, now (not only at the next renewal: executors and
   * standbys look for it as soon as the lease changes hands), and with every renewal after.
   */
  async publish(info: LeaderInfo): Promise<void> {
    this.info = JSON.stringify(info);
    // A renewal in flight may have been sent without the info: this one carries it.
    await this.renewing;
    await this.renewNow();
  }

  private renewNow(): Promise<void> {
    this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renew(): Promise<void> {
    const renewal = this.renewal;
    if (!renewal) return;
    try {
      const sent = performance.now();
      const reply = await this.redis.renewLease([this.key, this.store.keys.leaderInfo], this.driverId, this.ttlMs, this.info);
      if (reply[0] === 'ok') {
        this.expiresAt = sent + this.ttlMs;
        return;
      }
      // Expired (e.g. a long pause) but nobody took it: take it again, unless a newer epoch says
      // another driver led meanwhile (then this one is fenced anyway).
      if (reply[1] === null && (await this.store.currentEpoch()) === renewal.epoch && (await this.take())) {
        this.logger.warn('leader lease had expired; taken again');
        return;
      }
      this.giveUp();
      renewal.events.lost(reply[1] ?? null);
    } catch (e) {
      if (!isDependencyOutage(asRedisOutage(e))) {
        this.giveUp();
        renewal.events.failed(e as Error);
        return;
      }
      this.logger.warn(
        { err: (e as Error).message, held: this.held },
        this.held ? 'leader lease renewal failed; retrying' : 'leader lease lapsed: renewals failed for longer than its TTL; retrying'
      );
    }
  }

  private giveUp(): void {
    this.owned = false;
    this.renewal = undefined;
    this.stopRenewing();
  }

  stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Deletes the lease if still ours (best effort: it expires anyway). */
  async release(): Promise<void> {
    this.stopRenewing();
    if (!this.owned) return;
    this.owned = false;
    try {
      await this.redis.releaseLease([this.key, this.store.keys.leaderInfo], this.driverId);
    } catch (e) {
      this.logger.warn({ err: (e as Error).message }, 'leader lease release failed; it expires by itself');
    }
  }
}
