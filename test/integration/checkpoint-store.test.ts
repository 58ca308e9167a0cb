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

/** A range split in pieces: a later piece that finishes first is staged, then applied in order. */
describe('CheckpointStore staging of split ranges', () => {
  let store: CheckpointStore;
  const tp = { topic: 't', partition: 0 };
  let epoch: string;
  const hit = (field: string): RedisWrite[] => [{ op: 'hincrby', key: 'h', field, by: 1 }];

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('stage'));
    epoch = await store.takeEpoch();
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: 0n, untilOffset: 30n }] });
  });
  afterEach(() => store.close());

  it('stages the chunks of later pieces until the pieces before them commit, then applies them once', async () => {
    // Pieces [0,10) [10,20) [20,30); the last finishes first, in two chunks.
    await expect(store.commitChunk(epoch, tp, 20n, 25n, hit('c'), 20n)).resolves.toEqual({ status: 'staged' });
    await expect(store.commitChunk(epoch, tp, 25n, 30n, hit('c'), 20n)).resolves.toEqual({ status: 'staged' });
    await expect(store.commitChunk(epoch, tp, 10n, 20n, hit('b'), 10n)).resolves.toEqual({ status: 'staged' });
    // Nothing is visible yet, and applying out of order does nothing.
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({});
    await expect(store.applyStage(epoch, tp, 20n)).resolves.toEqual({ status: 'skipped', storedOffset: 0n });
    // The first piece commits directly; then the stages apply in order, each exactly once.
    await expect(store.commitChunk(epoch, tp, 0n, 10n, hit('a'))).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage(epoch, tp, 10n)).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage(epoch, tp, 20n)).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage(epoch, tp, 20n)).resolves.toEqual({ status: 'skipped', storedOffset: 30n });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1', c: '2' });
    expect(await store.readOffset(tp)).toBe(30n);
    expect(await store.client.hlen(store.keys.stages)).toBe(0);
  });

  it('commits a later piece directly when the pieces before it are already done', async () => {
    await store.commitChunk(epoch, tp, 0n, 10n, hit('a'));
    await expect(store.commitChunk(epoch, tp, 10n, 20n, hit('b'), 10n)).resolves.toEqual({ status: 'committed' });
    await expect(store.commitChunk(epoch, tp, 20n, 30n, hit('c'), 20n)).resolves.toEqual({ status: 'committed' });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1', c: '1' });
  });

  it('a stage is rebuilt, not appended twice, when a piece is retried from its start', async () => {
    await store.commitChunk(epoch, tp, 10n, 20n, hit('b'), 10n);
    await store.commitChunk(epoch, tp, 10n, 20n, hit('b'), 10n);
    await store.commitChunk(epoch, tp, 0n, 10n, hit('a'));
    await store.applyStage(epoch, tp, 10n);
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1' });
  });
});

describe('CheckpointStore staging: predecessors finishing mid-way', () => {
  it('keeps staging the rest of a piece whose stage began before the pieces ahead of it committed', async () => {
    const store = await CheckpointStore.connect(redisUrl(), uniqueName('stage'));
    const tp = { topic: 't', partition: 0 };
    const epoch = await store.takeEpoch();
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: 0n, untilOffset: 20n }] });
    const hit = (field: string): RedisWrite[] => [{ op: 'hincrby', key: 'h', field, by: 1 }];
    await expect(store.commitChunk(epoch, tp, 10n, 15n, hit('b1'), 10n)).resolves.toEqual({ status: 'staged' });
    await expect(store.commitChunk(epoch, tp, 0n, 10n, hit('a'))).resolves.toEqual({ status: 'committed' });
    await expect(store.commitChunk(epoch, tp, 15n, 20n, hit('b2'), 10n)).resolves.toEqual({ status: 'staged' });
    await expect(store.applyStage(epoch, tp, 10n)).resolves.toEqual({ status: 'committed' });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b1: '1', b2: '1' });
    expect(await store.readOffset(tp)).toBe(20n);
    await store.close();
  });
});
