import { CheckpointStore, type RedisWrite } from '@sluice/common';
import { redisUrl, uniqueName } from '../helpers/env';

/** The commit script against real Redis: a chunk applies all of its writes or none. */
describe('CheckpointStore.commitChunk', () => {
  let store: CheckpointStore;
  const tp = { topic: 't', partition: 0 };
  let epoch: string;

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('store'));
    epoch = await store.takeEpoch();
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: 0n, untilOffset: 10n }] });
  });
  afterEach(() => store.close());

  it('applies the writes and moves the offset, then is a no-op for the same chunk', async () => {
    const writes: RedisWrite[] = [
      { op: 'hincrby', key: 'h', field: 'a', by: 2 },
      { op: 'rpush', key: 'l', value: 'x' },
    ];
    await expect(store.commitChunk(epoch, tp, 0n, 10n, writes)).resolves.toEqual({ status: 'committed' });
    await expect(store.commitChunk(epoch, tp, 0n, 10n, writes)).resolves.toEqual({ status: 'skipped', storedOffset: 10n });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '2' });
    expect(await store.client.lrange(store.keys.output('l'), 0, -1)).toEqual(['x']);
  });

  it('commits a chunk with 100,000 distinct writes (no argument spread that could overflow the stack)', async () => {
    const writes: RedisWrite[] = Array.from({ length: 100_000 }, (_, i) => ({ op: 'hincrby', key: 'wide', field: `f${i}`, by: 1 }));
    await expect(store.commitChunk(epoch, tp, 0n, 10n, writes)).resolves.toEqual({ status: 'committed' });
    expect(await store.client.hlen(store.keys.output('wide'))).toBe(100_000);
    expect(await store.readOffset(tp)).toBe(10n);
  });

  it.each<[string, RedisWrite[], RegExp]>([
    [
      'a write to a key of another type',
      [
        { op: 'hincrby', key: 'k', field: 'a', by: 1 },
        { op: 'incrby', key: 'k', by: 1 },
      ],
      /incrby on .*k, which holds a hash/,
    ],
    [
      'a non-integer increment',
      [
        { op: 'hincrby', key: 'k', field: 'a', by: 1 },
        { op: 'hincrby', key: 'k', field: 'b', by: 0.5 },
      ],
      /non-integer 0\.5/,
    ],
  ])('applies nothing when one write is invalid: %s', async (_, writes, message) => {
    await expect(store.commitChunk(epoch, tp, 0n, 10n, writes)).rejects.toMatchObject({ code: 'SLUICE_PROCESS_FAILED', message });
    expect(await store.client.exists(store.keys.output('k'))).toBe(0);
    expect(await store.readOffset(tp)).toBe(0n);
  });
});
