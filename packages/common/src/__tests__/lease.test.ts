import type { CheckpointStore } from '../checkpoint/store';
import { RedisPermissionError } from '../errors';
import { LeaderLease } from '../lease';
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
    // As renew-lease-1.lua: {'ok'} for the owner, else {'lost', owner or null}.
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
