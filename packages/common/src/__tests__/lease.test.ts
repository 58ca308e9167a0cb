import type Redis from 'ioredis';
import type { CheckpointStore } from '../checkpoint/store';
import { RedisPermissionError } from '../errors';
import { LeaderLease, readLeader, type Leader, type LeaderInfo } from '../lease';
import { createLogger } from '../logging';

/**
 * A Redis that is down until `up()`: its lease commands wait until then, as ioredis's do while it
 * reconnects. The lease expired meanwhile: every renewal finds it gone, and SET NX succeeds once.
 */
function redisDownThenUp(): { store: CheckpointStore; up: () => void; renewals: () => number } {
  let release: () => void = () => undefined;
  const back = new Promise<void>((resolve) => (release = resolve));
  let holder: string | null = null;
  let renewals = 0;
  const redis = {
    // As renew-lease-2.lua: {'ok'} for the owner, else {'lost', owner or null}.
    renewLease: async (_key: string, caller: string): Promise<[string, string | null]> => {
      renewals++;
      await back;
      return holder === caller ? ['ok', null] : ['lost', holder];
    },
    set: async (_key: string, owner: string): Promise<'OK' | null> => {
      await back;
      if (holder !== null) return null;
      holder = owner;
      return 'OK';
    },
  };
  const store = {
    client: redis,
    keys: { leader: 'sluice:{j}:leader' },
    job: 'j',
    currentEpoch: async () => {
      await back;
      return '7';
    },
  } as unknown as CheckpointStore;
  return { store, up: () => release(), renewals: () => renewals };
}

describe('LeaderLease.startRenewing', () => {
  afterEach(() => jest.useRealTimers());

  it('renews one at a time, so a lease that expired while Redis was down is taken again and not reported lost', async () => {
    jest.useFakeTimers();
    const redis = redisDownThenUp();
    const lease = new LeaderLease(redis.store, 'driver-1', 3000, createLogger('silent'));
    const lost: Array<string | null> = [];
    const failed: unknown[] = [];
    lease.startRenewing('7', { lost: (owner) => lost.push(owner), failed: (e) => failed.push(e) });
    // Redis down for five renewal intervals, then back.
    await jest.advanceTimersByTimeAsync(5000);
    redis.up();
    await jest.advanceTimersByTimeAsync(1000);
    expect(lost).toEqual([]);
    expect(failed).toEqual([]);
    // The renewal that waited for Redis and the next tick's: the ticks while it waited started none.
    expect(redis.renewals()).toBe(2);
    lease.stopRenewing();
  });
});

describe('LeaderLease.acquire', () => {
  it('a standby outlives a Redis outage while it waits, and takes the lease once it lapses', async () => {
    let holder: string | null = 'driver-0';
    let down = true;
    const outage = (): Error =>
      Object.assign(new Error('Reached the max retries per request limit (which is 2).'), { name: 'MaxRetriesPerRequestError' });
    // Resolves on the n-th SET: the wait goes on through the outage instead of throwing.
    const attempts: Array<() => void> = [];
    const attempt = (n: number): Promise<void> => new Promise((resolve) => (attempts[n] = resolve));
    const [second, third] = [attempt(2), attempt(3)];
    let sets = 0;
    const redis = {
      set: (_key: string, owner: string): Promise<'OK' | null> => {
        attempts[++sets]?.();
        if (down) return Promise.reject(outage());
        if (holder !== null) return Promise.resolve(null);
        holder = owner;
        return Promise.resolve('OK');
      },
      get: (): Promise<string | null> => Promise.resolve(holder),
      pttl: (): Promise<number> => Promise.resolve(holder === null ? -2 : 1000),
    };
    const store = { client: redis, keys: { leader: 'sluice:{j}:leader' }, job: 'j' } as unknown as CheckpointStore;
    const lease = new LeaderLease(store, 'driver-1', 3000, createLogger('silent'));
    const acquired = lease.acquire(true);
    await second; // the first SET failed on the outage, and the standby tried again
    down = false;
    await third; // Redis is back; driver-0 still leads
    holder = null; // its lease lapsed
    await expect(acquired).resolves.toBe(true);
    expect(holder).toBe('driver-1');
  });
});

describe('LeaderLease renewal refused', () => {
  afterEach(() => jest.useRealTimers());

  it('a renewal that trying again cannot cure (the ACL user may not run the script) gives the lease up at once and reports why', async () => {
    jest.useFakeTimers();
    const refused = new RedisPermissionError({ user: 'sluice', command: 'EVALSHA', refused: 'command', keys: [] });
    let renewals = 0;
    const redis = {
      set: (): Promise<'OK'> => Promise.resolve('OK'),
      renewLease: (): Promise<never> => {
        renewals++;
        return Promise.reject(refused);
      },
    };
    const store = { client: redis, keys: { leader: 'sluice:{j}:leader' }, job: 'j' } as unknown as CheckpointStore;
    const lease = new LeaderLease(store, 'driver-1', 3000, createLogger('silent'));
    await expect(lease.acquire()).resolves.toBe(true);
    expect(lease.held).toBe(true);
    const failed: unknown[] = [];
    lease.startRenewing('1', { lost: () => failed.push('lost'), failed: (e) => failed.push(e) });
    await jest.advanceTimersByTimeAsync(5000);
    expect(failed).toEqual([refused]);
    expect(renewals).toBe(1);
    expect(lease.held).toBe(false);
  });
});

describe('leader info', () => {
  afterEach(() => jest.useRealTimers());

  const info: LeaderInfo = { id: 'driver-1', httpUrl: 'http://10.0.0.7:4040', grpcAddress: '10.0.0.7:7070', epoch: '3', since: 1 };

  it('is published at once, not only at the next renewal, and written again by every renewal', async () => {
    jest.useFakeTimers();
    const renewals: string[] = [];
    const redis = {
      set: (): Promise<'OK'> => Promise.resolve('OK'),
      // As renew-lease-2.lua: ARGV[3] is the info ('' until published).
      renewLease: (_keys: string[], _owner: string, _ttlMs: number, published: string): Promise<[string]> => {
        renewals.push(published);
        return Promise.resolve(['ok']);
      },
    };
    const store = { client: redis, keys: { leader: 'sluice:{j}:leader', leaderInfo: 'sluice:{j}:leader:info' }, job: 'j' };
    const lease = new LeaderLease(store as unknown as CheckpointStore, 'driver-1', 3000, createLogger('silent'));
    await lease.acquire();
    lease.startRenewing('3', { lost: () => undefined, failed: () => undefined });
    await jest.advanceTimersByTimeAsync(1000);
    expect(renewals).toEqual(['']);
    await lease.publish(info);
    expect(renewals).toEqual(['', JSON.stringify(info)]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(renewals).toEqual(['', JSON.stringify(info), JSON.stringify(info)]);
    lease.stopRenewing();
  });

  it('counts only when it names the lease owner', async () => {
    const read = (owner: string | null, raw: string | null): Promise<Leader | null> =>
      readLeader({ mget: () => Promise.resolve([owner, raw]) } as unknown as Redis, 'j');
    await expect(read('driver-1', JSON.stringify(info))).resolves.toEqual({ id: 'driver-1', info });
    // Written by the previous owner, just before its lease lapsed.
    await expect(read('driver-2', JSON.stringify(info))).resolves.toEqual({ id: 'driver-2', info: undefined });
    await expect(read('driver-1', null)).resolves.toEqual({ id: 'driver-1', info: undefined });
    await expect(read('driver-1', 'not json')).resolves.toEqual({ id: 'driver-1', info: undefined });
    await expect(read(null, JSON.stringify(info))).resolves.toBeNull();
  });
});
