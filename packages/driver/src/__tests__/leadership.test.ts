import { createLogger, jobKeys, loadConfig, type CheckpointStore, type OffsetOracle } from '@sluice/common';
import { Driver } from '../driver';
import { testJobSettings } from './job-settings';

/**
 * A driver claims to lead (status API, /readyz, sluice_leader) only while its lease is live: once
 * its renewals have failed for longer than the lease's TTL it names no leader and is not ready,
 * though Redis still answers its reads.
 */

const job = 'leadership';
const keys = jobKeys(job);

/** A method answering `value`. */
const answers =
  <T>(value: T) =>
  (): Promise<T> =>
    Promise.resolve(value);

/**
 * Redis as the driver sees it: the lease key with its expiry and the leader info renewed with it;
 * renewals fail once `failRenewals` was called.
 */
function fakeRedis(hooks: { onSet?: () => void } = {}): { store: CheckpointStore; failRenewals: () => void; calls: string[] } {
  let lease: { owner: string; expiresAt: number; info?: string } | null = null;
  const calls: string[] = [];
  let renewalsFail = false;
  const live = (): typeof lease => (lease !== null && Date.now() < lease.expiresAt ? lease : null);
  const client = {
    options: {},
    ping: answers('PONG'),
    set: (key: string, owner: string, _px: 'PX', ttlMs: number): Promise<'OK' | null> => {
      expect(key).toBe(keys.leader);
      if (live()) return Promise.resolve(null);
      lease = { owner, expiresAt: Date.now() + ttlMs };
      calls.push('take lease');
      hooks.onSet?.();
      return Promise.resolve('OK');
    },
    get: (key: string): Promise<string | null> => Promise.resolve(key === keys.leader ? (live()?.owner ?? null) : null),
    pttl: (): Promise<number> => Promise.resolve(live() ? (live() as { expiresAt: number }).expiresAt - Date.now() : -2),
    mget: (leaderKey: string, infoKey: string): Promise<Array<string | null>> => {
      expect([leaderKey, infoKey]).toEqual([keys.leader, keys.leaderInfo]);
      return Promise.resolve([live()?.owner ?? null, live()?.info ?? null]);
    },
    renewLease: (_keys: string[], owner: string, ttlMs: number, info: string): Promise<Array<string | null>> => {
      // Retried as an outage: the renewal cannot tell whether Redis will answer it again.
      if (renewalsFail) return Promise.reject(new Error('BUSY Redis is busy running a script'));
      if (live()?.owner !== owner) return Promise.resolve(['lost', live()?.owner ?? null]);
      lease = { owner, expiresAt: Date.now() + ttlMs, info: info === '' ? lease?.info : info };
      return Promise.resolve(['ok']);
    },
    releaseLease: () => {
      calls.push('release lease');
      lease = null;
      return Promise.resolve(['ok']);
    },
    checkAccess: answers(['unsupported']),
  };
  const store = {
    job,
    keys,
    client,
    reach: answers(true),
    takeEpoch: () => {
      calls.push('take epoch');
      return Promise.resolve('1');
    },
    currentEpoch: answers('1'),
    readOffsets: answers(new Map()),
    totals: answers({ batches: 0, records: 0, bytes: 0 }),
    history: answers([]),
    close: answers(undefined),
  } as unknown as CheckpointStore;
  return { store, failRenewals: () => (renewalsFail = true), calls };
}

const oracle = {
  listPartitions: (topics: string[]) => Promise.resolve(topics.map((topic) => ({ topic, partition: 0 }))),
  offsetBounds: answers({ latest: new Map(), earliest: new Map() }),
  close: answers(undefined),
} as unknown as OffsetOracle;

const settings = testJobSettings(job, ['t']);

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function until<T>(probe: () => Promise<T | undefined>, label: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Driver leadership', () => {
  it('once its lease renewals have failed for longer than the TTL, it names no leader and is not ready', async () => {
    const config = loadConfig({
      conf: ['driver.leaseTtlMs=1000', 'driver.httpPort=0', 'driver.grpcPort=0', 'driver.consumerGroup='],
    });
    const redis = fakeRedis();
    const driver = new Driver(settings, config, { oracle, store: redis.store, logger: createLogger('silent') });
    try {
      await driver.start();
      expect(await get(`${driver.httpUrl}/readyz`)).toEqual({
        status: 200,
        body: { status: 'ready', role: 'leader', state: 'waiting-for-executors' },
      });
      const status = (await get(`${driver.httpUrl}/api/v1/status`)).body;
      expect([status.leader, status.driverId]).toEqual([driver.driverId, driver.driverId]);
      // Published with the lease: where executors and standbys reach this driver.
      expect(status.leaderInfo).toEqual({
        id: driver.driverId,
        httpUrl: driver.httpUrl,
        grpcAddress: `127.0.0.1:${driver.port}`,
        epoch: '1',
        since: expect.any(Number) as number,
      });
      expect(driver.leading).toBe(true);

      redis.failRenewals();
      const started = Date.now();
      const notReady = await until(
        async () => {
          const ready = await get(`${driver.httpUrl}/readyz`);
          return ready.status === 503 ? ready.body : undefined;
        },
        '/readyz 503',
        4000
      );
      // Not before the lease could have lapsed: the last renewal was at most a third of the TTL ago.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000 - 1000 / 3 - 50);
      expect(notReady).toEqual({ status: 'not ready', reason: 'this driver does not hold the leader lease' });
      expect(driver.leading).toBe(false);
      expect((await get(`${driver.httpUrl}/api/v1/status`)).body).toMatchObject({ leader: null, leaderInfo: null });
      expect(await (await fetch(`${driver.httpUrl}/metrics`)).text()).toMatch(/^sluice_leader 0$/m);
    } finally {
      await driver.close();
    }
  });

  it('a standby stopped as it takes the lease (its leader stopping beside it) takes no epoch and gives the lease back', async () => {
    const config = loadConfig({
      conf: ['driver.standby=true', 'driver.httpPort=0', 'driver.grpcPort=0', 'driver.consumerGroup=', 'driver.executorWaitMs=60000'],
    });
    // The SET that takes the lease is where the stop request lands.
    const redis = fakeRedis({ onSet: () => driver.stop() });
    const driver = new Driver(settings, config, { oracle, store: redis.store, logger: createLogger('silent') });
    try {
      await driver.start();
      // Not waiting for executors (none will come): run ends at once.
      await driver.run();
      expect([driver.epoch, driver.state]).toEqual(['', 'stopping']);
    } finally {
      await driver.close();
    }
    expect(redis.calls).toEqual(['take lease', 'release lease']);
  });
});
