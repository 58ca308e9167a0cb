import { SlotPool } from '../kafkajs/slot-pool';

/** Clusters that only count their connects and disconnects. */
function clusters() {
  const log: string[] = [];
  let made = 0;
  const connect = (): Promise<{ disconnect: () => Promise<void> }> => {
    const id = ++made;
    log.push(`connect ${id}`);
    return Promise.resolve({
      disconnect: () => {
        log.push(`disconnect ${id}`);
        return Promise.resolve();
      },
    });
  };
  return { connect, log };
}

describe('SlotPool', () => {
  it('gives a partition back the idle slot that served it last, else the least recently used', async () => {
    const pool = new SlotPool(2, clusters().connect);
    const a = await pool.acquire('t:0', undefined);
    const b = await pool.acquire('t:1', undefined);
    pool.release(b, 't:1');
    pool.release(a, 't:0');
    expect((await pool.acquire('t:1', undefined)).index).toBe(b.index);
    // t:2 has no slot of its own: the idle one, a.
    expect((await pool.acquire('t:2', undefined)).index).toBe(a.index);
  });

  it('connects a slot once, on first use, and anew after it was dropped', async () => {
    const { connect, log } = clusters();
    const pool = new SlotPool(1, connect);
    const slot = await pool.acquire('t:0', undefined);
    const first = await pool.clusterOf(slot);
    expect(await pool.clusterOf(slot)).toBe(first);
    await pool.dropCluster(slot);
    await pool.clusterOf(slot);
    expect(log).toEqual(['connect 1', 'disconnect 1', 'connect 2']);
  });

  it('makes a reader wait for a busy pool, until a slot is released or its signal aborts', async () => {
    const pool = new SlotPool(1, clusters().connect);
    const held = await pool.acquire('t:0', undefined);
    const aborted = new AbortController();
    const gaveUp = pool.acquire('t:1', aborted.signal);
    const waiting = pool.acquire('t:2', undefined);
    aborted.abort(new Error('task cancelled'));
    await expect(gaveUp).rejects.toThrow('task cancelled');
    pool.release(held, 't:0');
    expect((await waiting).index).toBe(held.index);
  });

  it('once closed, fails waiting and later acquires and disconnects every cluster', async () => {
    const { connect, log } = clusters();
    const pool = new SlotPool(1, connect);
    await pool.clusterOf(await pool.acquire('t:0', undefined));
    const waiting = pool.acquire('t:1', undefined);
    await pool.close();
    await expect(waiting).rejects.toThrow('[SLUICE_KAFKA_UNAVAILABLE] the Kafka range reader is closed');
    await expect(pool.acquire('t:2', undefined)).rejects.toThrow('[SLUICE_KAFKA_UNAVAILABLE] the Kafka range reader is closed');
    expect(log).toEqual(['connect 1', 'disconnect 1']);
  });
});
