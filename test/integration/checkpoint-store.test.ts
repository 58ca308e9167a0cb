import { asRedisOutage, CheckpointStore, type ChunkCommitResult, type RedisWrite, type TopicPartition } from '@sluice/common';
import { redisUrl, uniqueName } from '../helpers/env';
import { waitFor } from '../helpers/wait-for';

type Commit = (tp: TopicPartition, from: bigint, until: bigint, writes: RedisWrite[], pieceStart?: bigint) => Promise<ChunkCommitResult>;

/**
 * Chunk commits of a batch (1 unless given) under `epoch`, of one record per offset; with
 * `pieceStart`, a chunk of a later piece of a split range (which may be staged).
 */
const committer =
  (store: CheckpointStore, epoch: string, batchId = 1): Commit =>
  (tp, from, until, writes, pieceStart) =>
    store.commitChunk({
      batchId,
      epoch,
      tp,
      from,
      until,
      writes,
      taskFrom: pieceStart ?? from,
      mayStage: pieceStart !== undefined,
      records: Number(until - from),
      bytes: 0,
    });

/** The commit script against real Redis: a chunk applies all of its writes or none. */
describe('CheckpointStore.commitChunk', () => {
  let store: CheckpointStore;
  const tp = { topic: 't', partition: 0 };
  let epoch: string;
  let commit: Commit;

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('store'));
    epoch = await store.takeEpoch();
    commit = committer(store, epoch);
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: 0n, untilOffset: 10n }] });
  });
  afterEach(() => store.close());

  it('applies the writes and moves the offset, then is a no-op for the same chunk', async () => {
    const writes: RedisWrite[] = [
      { op: 'hincrby', key: 'h', field: 'a', by: 2 },
      { op: 'rpush', key: 'l', value: 'x' },
    ];
    await expect(commit(tp, 0n, 10n, writes)).resolves.toEqual({ status: 'committed' });
    await expect(commit(tp, 0n, 10n, writes)).resolves.toEqual({ status: 'skipped', storedOffset: 10n });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '2' });
    expect(await store.client.lrange(store.keys.output('l'), 0, -1)).toEqual(['x']);
  });

  it('commits a chunk with 100,000 distinct writes (no argument spread that could overflow the stack)', async () => {
    const writes: RedisWrite[] = Array.from({ length: 100_000 }, (_, i) => ({ op: 'hincrby', key: 'wide', field: `f${i}`, by: 1 }));
    await expect(commit(tp, 0n, 10n, writes)).resolves.toEqual({ status: 'committed' });
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
      /writes\[1\]: by must be an integer \(Number\.isSafeInteger\), got 0\.5$/,
    ],
  ])('applies nothing when one write is invalid: %s', async (_, writes, message) => {
    // toThrow, not toMatchObject: jest's toMatchObject takes any string for a RegExp.
    const committed = commit(tp, 0n, 10n, writes);
    await expect(committed).rejects.toMatchObject({ code: 'SLUICE_PROCESS_FAILED' });
    await expect(committed).rejects.toThrow(message);
    expect(await store.client.exists(store.keys.output('k'))).toBe(0);
    expect(await store.readOffset(tp)).toBe(0n);
  });
});

/** A range split in pieces: a later piece that finishes first is staged, then applied in order. */
describe('CheckpointStore staging of split ranges', () => {
  let store: CheckpointStore;
  const tp = { topic: 't', partition: 0 };
  let epoch: string;
  let commit: Commit;
  const hit = (field: string): RedisWrite[] => [{ op: 'hincrby', key: 'h', field, by: 1 }];

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('stage'));
    epoch = await store.takeEpoch();
    commit = committer(store, epoch);
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: 0n, untilOffset: 30n }] });
  });
  afterEach(() => store.close());

  it('stages the chunks of later pieces until the pieces before them commit, then applies them once', async () => {
    // Pieces [0,10) [10,20) [20,30); the last finishes first, in two chunks.
    await expect(commit(tp, 20n, 25n, hit('c'), 20n)).resolves.toEqual({ status: 'staged' });
    await expect(commit(tp, 25n, 30n, hit('c'), 20n)).resolves.toEqual({ status: 'staged' });
    await expect(commit(tp, 10n, 20n, hit('b'), 10n)).resolves.toEqual({ status: 'staged' });
    // Nothing is visible yet, and applying out of order does nothing.
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({});
    await expect(store.applyStage({ batchId: 1, epoch }, tp, 20n)).resolves.toEqual({ status: 'skipped', storedOffset: 0n });
    // The first piece commits directly; then the stages apply in order, each exactly once.
    await expect(commit(tp, 0n, 10n, hit('a'))).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage({ batchId: 1, epoch }, tp, 10n)).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage({ batchId: 1, epoch }, tp, 20n)).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage({ batchId: 1, epoch }, tp, 20n)).resolves.toEqual({ status: 'skipped', storedOffset: 30n });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1', c: '2' });
    expect(await store.readOffset(tp)).toBe(30n);
    expect(await store.client.hlen(store.keys.stages)).toBe(0);
  });

  it('commits a later piece directly when the pieces before it are already done', async () => {
    await commit(tp, 0n, 10n, hit('a'));
    await expect(commit(tp, 10n, 20n, hit('b'), 10n)).resolves.toEqual({ status: 'committed' });
    await expect(commit(tp, 20n, 30n, hit('c'), 20n)).resolves.toEqual({ status: 'committed' });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1', c: '1' });
  });

  it('a stage is rebuilt, not appended twice, when a piece is retried from its start', async () => {
    await commit(tp, 10n, 20n, hit('b'), 10n);
    await commit(tp, 10n, 20n, hit('b'), 10n);
    await commit(tp, 0n, 10n, hit('a'));
    await store.applyStage({ batchId: 1, epoch }, tp, 10n);
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1' });
  });
});

describe('CheckpointStore staging: predecessors finishing mid-way', () => {
  it('keeps staging the rest of a piece whose stage began before the pieces ahead of it committed', async () => {
    const store = await CheckpointStore.connect(redisUrl(), uniqueName('stage'));
    const tp = { topic: 't', partition: 0 };
    const epoch = await store.takeEpoch();
    const commit = committer(store, epoch);
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: 0n, untilOffset: 20n }] });
    const hit = (field: string): RedisWrite[] => [{ op: 'hincrby', key: 'h', field, by: 1 }];
    await expect(commit(tp, 10n, 15n, hit('b1'), 10n)).resolves.toEqual({ status: 'staged' });
    await expect(commit(tp, 0n, 10n, hit('a'))).resolves.toEqual({ status: 'committed' });
    await expect(commit(tp, 15n, 20n, hit('b2'), 10n)).resolves.toEqual({ status: 'staged' });
    await expect(store.applyStage({ batchId: 1, epoch }, tp, 10n)).resolves.toEqual({ status: 'committed' });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b1: '1', b2: '1' });
    expect(await store.readOffset(tp)).toBe(20n);
    await store.close();
  });
});

/** Offsets above 2^53 (Kafka offsets are int64): the scripts compare them exactly, not as Lua doubles. */
describe('CheckpointStore: offsets above 2^53', () => {
  let store: CheckpointStore;
  const tp = { topic: 't', partition: 0 };
  const at = (offset: bigint): bigint => 2n ** 53n + offset;
  let epoch: string;
  let commit: Commit;

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('bigoffsets'));
    epoch = await store.takeEpoch();
    commit = committer(store, epoch);
    await store.writePlan({ id: 1, epoch, time: 0, ranges: [{ ...tp, fromOffset: at(-2n), untilOffset: at(0n) }] });
  });
  afterEach(() => store.close());

  it('refuses a chunk ending one past its planned until (9007199254740993 > 9007199254740992)', async () => {
    const committed = commit(tp, at(-2n), at(1n), [{ op: 'incrby', key: 'n', by: 1 }]);
    await expect(committed).rejects.toMatchObject({ code: 'SLUICE_TASK_OUTSIDE_PLAN' });
    await expect(committed).rejects.toThrow('is outside its planned range [9007199254740990, 9007199254740992)');
    expect(await store.readOffset(tp)).toBe(at(-2n));
    expect(await store.client.exists(store.keys.output('n'))).toBe(0);
  });

  it('skips, not stages, a piece whose start the stored offset has passed by one', async () => {
    const replan = await store.takeEpoch();
    await store.writePlan({ id: 2, epoch: replan, time: 0, ranges: [{ ...tp, fromOffset: at(-2n), untilOffset: at(4n) }] });
    const commitReplan = committer(store, replan, 2);
    await expect(commitReplan(tp, at(-2n), at(1n), [])).resolves.toEqual({ status: 'committed' });
    await expect(commitReplan(tp, at(0n), at(2n), [{ op: 'incrby', key: 'n', by: 1 }], at(0n))).resolves.toEqual({
      status: 'skipped',
      storedOffset: at(1n),
    });
    expect(await store.client.hlen(store.keys.stages)).toBe(0);
  });
});

/** The chunk commits of one turn of the event loop (the tasks of a group) go to Redis as one script call. */
describe('CheckpointStore: concurrent commits in one call', () => {
  let store: CheckpointStore;
  let epoch: string;
  let commit: Commit;
  const tp = (partition: number): { topic: string; partition: number } => ({ topic: 't', partition });
  const hit = (field: string, by = 1): RedisWrite[] => [{ op: 'hincrby', key: 'h', field, by }];

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('group'));
    epoch = await store.takeEpoch();
    commit = committer(store, epoch);
    const ranges = Array.from({ length: 8 }, (_, p) => ({ ...tp(p), fromOffset: 0n, untilOffset: 10n }));
    await store.writePlan({ id: 1, epoch, time: 0, ranges });
  });
  afterEach(() => store.close());

  /** `store.commitStats` counted from now. */
  const callsFrom =
    (before = { ...store.commitStats }) =>
    () => ({
      calls: store.commitStats.calls - before.calls,
      entries: store.commitStats.entries - before.entries,
    });

  it('sends eight concurrent commits as one script command (seen by Redis MONITOR)', async () => {
    // Loads the script first, so that no NOSCRIPT retry counts as a second command.
    await commit(tp(7), 0n, 10n, hit('warm-up'));
    const monitor = await store.client.monitor();
    try {
      const scriptCommands: string[][] = [];
      const sentinel = `${store.keys.output('sentinel')}`;
      let sentinelSeen = false;
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.includes(store.keys.offsets) && /^eval/i.test(args[0] ?? '')) scriptCommands.push(args);
        if (args.includes(sentinel)) sentinelSeen = true;
      });
      const counted = callsFrom();
      const results = await Promise.all(Array.from({ length: 7 }, (_, p) => commit(tp(p), 0n, 10n, hit(`p${p}`))));
      expect(results).toEqual(Array.from({ length: 7 }, () => ({ status: 'committed' })));
      expect(counted()).toEqual({ calls: 1, entries: 7 });
      // MONITOR reports commands in the order Redis ran them: once the sentinel shows, the commits have.
      await store.client.get(sentinel);
      await waitFor(() => sentinelSeen, { timeoutMs: 5000, label: 'the sentinel GET in MONITOR' });
      expect(scriptCommands).toHaveLength(1);
      expect(await store.readOffsets()).toEqual(new Map(Array.from({ length: 8 }, (_, p) => [`t:${p}`, 10n])));
      expect(await store.client.hgetall(store.keys.output('h'))).toEqual({
        'warm-up': '1',
        ...Object.fromEntries(Array.from({ length: 7 }, (_, p) => [`p${p}`, '1'])),
      });
    } finally {
      monitor.disconnect();
    }
  });

  it('settles each commit of one call on its own: committed, skipped (offset moved), invalid', async () => {
    await commit(tp(1), 0n, 10n, hit('first'));
    const counted = callsFrom();
    const [committed, skipped, invalid, after] = await Promise.allSettled([
      commit(tp(0), 0n, 10n, hit('a')),
      commit(tp(1), 0n, 10n, hit('again')),
      // Same sink key as the others, written as if it were a string.
      commit(tp(2), 0n, 10n, [...hit('b'), { op: 'incrby', key: 'h', by: 1 }]),
      commit(tp(3), 0n, 10n, [...hit('d'), { op: 'set', key: 's', value: 'x' }]),
    ]);
    expect(counted()).toEqual({ calls: 1, entries: 4 });
    expect(committed).toEqual({ status: 'fulfilled', value: { status: 'committed' } });
    expect(skipped).toEqual({ status: 'fulfilled', value: { status: 'skipped', storedOffset: 10n } });
    expect(invalid.status === 'rejected' && invalid.reason).toMatchObject({ code: 'SLUICE_PROCESS_FAILED' });
    expect(invalid.status === 'rejected' && (invalid.reason as Error).message).toBe(
      `[SLUICE_PROCESS_FAILED] t:2 [0, 10): sink output cannot be applied: incrby on ${store.keys.output('h')}, which holds a hash`
    );
    expect(after).toEqual({ status: 'fulfilled', value: { status: 'committed' } });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ first: '1', a: '1', d: '1' });
    expect(await store.client.get(store.keys.output('s'))).toBe('x');
    const offsets = await store.readOffsets();
    expect([0, 1, 2, 3].map((p) => offsets.get(`t:${p}`))).toEqual([10n, 10n, 0n, 10n]);
  });

  it('refuses malformed writes (a custom sink) before the call, alone; the other commits of the turn commit', async () => {
    const counted = callsFrom();
    const malformed = [...hit('b'), { op: 'hset', key: 'h', field: { not: 'a field' }, value: 'v' }] as unknown as RedisWrite[];
    const [good, refused, notAnArray] = await Promise.allSettled([
      commit(tp(0), 0n, 10n, hit('a')),
      commit(tp(1), 0n, 10n, malformed),
      commit(tp(2), 0n, 10n, null as unknown as RedisWrite[]),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: { status: 'committed' } });
    expect([refused, notAnArray].map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual([
      '[SLUICE_PROCESS_FAILED] t:1 [0, 10): sink output cannot be applied: writes[1]: field must be a string, number or Buffer, got object',
      '[SLUICE_PROCESS_FAILED] t:2 [0, 10): sink output cannot be applied: the writes must be an array of RedisWrite, got null',
    ]);
    expect(counted()).toEqual({ calls: 1, entries: 1 });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1' });
  });

  it('stores Buffers byte for byte and numbers as their decimal text', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80]);
    const writes: RedisWrite[] = [
      { op: 'hset', key: 'bin', field: bytes, value: 1.5 },
      { op: 'rpush', key: 'list', value: bytes },
      { op: 'sadd', key: 'set', member: 42 },
    ];
    // Through a stage too: a split range's later piece keeps its writes as JSON in Redis first.
    await expect(commit(tp(0), 5n, 10n, writes, 5n)).resolves.toEqual({ status: 'staged' });
    await expect(commit(tp(0), 0n, 5n, [])).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage({ batchId: 1, epoch }, tp(0), 5n)).resolves.toEqual({ status: 'committed' });
    expect(await store.client.hkeysBuffer(store.keys.output('bin'))).toEqual([bytes]);
    expect(await store.client.hget(store.keys.output('bin'), bytes)).toBe('1.5');
    expect(await store.client.lrangeBuffer(store.keys.output('list'), 0, -1)).toEqual([bytes]);
    expect(await store.client.smembers(store.keys.output('set'))).toEqual(['42']);
  });

  it('checks each commit of one call against the key types the commits before it left', async () => {
    await commit(tp(1), 0n, 10n, hit('first'));
    const results = await Promise.allSettled([
      // Creates 'made' as a hash: a later string write to it is refused.
      commit(tp(0), 0n, 10n, [{ op: 'hset', key: 'made', field: 'f', value: 'v' }]),
      commit(tp(2), 0n, 10n, [{ op: 'set', key: 'made', value: 'x' }]),
      // Skipped (offset moved): 'never' stays absent, so a later string write to it is applied.
      commit(tp(1), 0n, 10n, [{ op: 'hset', key: 'never', field: 'f', value: 'v' }]),
      commit(tp(3), 0n, 10n, [{ op: 'set', key: 'never', value: 'x' }]),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.status : (r.reason as Error).message))).toEqual([
      'committed',
      `[SLUICE_PROCESS_FAILED] t:2 [0, 10): sink output cannot be applied: set on ${store.keys.output('made')}, which holds a hash`,
      'skipped',
      'committed',
    ]);
    expect(await store.client.get(store.keys.output('never'))).toBe('x');
  });

  it('refuses every commit of a call made with a fenced epoch, and applies nothing', async () => {
    const current = await store.takeEpoch();
    const counted = callsFrom();
    const results = await Promise.allSettled([0, 1, 2].map((p) => commit(tp(p), 0n, 10n, hit(`p${p}`))));
    expect(counted()).toEqual({ calls: 1, entries: 3 });
    for (const result of results) {
      expect(result.status === 'rejected' && result.reason).toMatchObject({ code: 'SLUICE_FENCED' });
      expect(result.status === 'rejected' && (result.reason as Error).message).toBe(
        `[SLUICE_FENCED] epoch ${epoch} is fenced (current epoch ${current})`
      );
    }
    expect(await store.client.exists(store.keys.output('h'))).toBe(0);
    expect([...(await store.readOffsets()).values()]).toEqual(Array.from({ length: 8 }, () => 0n));
  });

  it('stages, commits and applies the pieces of a split range in one call each, in the order made', async () => {
    const counted = callsFrom();
    // Pieces [0,4) [4,7) [7,10) of partition 0: the later ones are staged behind the first.
    await expect(
      Promise.all([commit(tp(0), 7n, 10n, hit('c'), 7n), commit(tp(0), 4n, 7n, hit('b'), 4n), commit(tp(0), 0n, 4n, hit('a'))])
    ).resolves.toEqual([{ status: 'staged' }, { status: 'staged' }, { status: 'committed' }]);
    expect(counted()).toEqual({ calls: 1, entries: 3 });
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1' });
    // Applied in order within one call: the first apply moves the offset to where the second starts.
    await expect(
      Promise.all([store.applyStage({ batchId: 1, epoch }, tp(0), 4n), store.applyStage({ batchId: 1, epoch }, tp(0), 7n)])
    ).resolves.toEqual([{ status: 'committed' }, { status: 'committed' }]);
    expect(await store.client.hgetall(store.keys.output('h'))).toEqual({ a: '1', b: '1', c: '1' });
    expect(await store.readOffset(tp(0))).toBe(10n);
    expect(await store.client.hlen(store.keys.stages)).toBe(0);
  });

  it('rejects every commit of a call with the same error when Redis cannot be reached', async () => {
    store.client.disconnect();
    const results = await Promise.allSettled([0, 1, 2].map((p) => commit(tp(p), 0n, 10n, hit(`p${p}`))));
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error) : undefined));
    expect(reasons[0]?.message).toMatch(/Connection is closed/);
    expect(reasons[1]).toBe(reasons[0]);
    expect(reasons[2]).toBe(reasons[0]);
    expect(asRedisOutage(reasons[0])).toMatchObject({ code: 'SLUICE_REDIS_UNAVAILABLE' });
  });
});

describe('CheckpointStore: size of one commit call', () => {
  it('splits the commits of one turn into calls of at most maxEntries entries and maxArgs arguments', async () => {
    // 10 arguments per entry plus 4 per write: one write is 14, ten writes are 50.
    const store = await CheckpointStore.connect(redisUrl(), uniqueName('split'), { commitCallLimits: { maxEntries: 3, maxArgs: 45 } });
    try {
      const epoch = await store.takeEpoch();
      const commit = committer(store, epoch);
      const ranges = Array.from({ length: 6 }, (_, p) => ({ topic: 't', partition: p, fromOffset: 0n, untilOffset: 10n }));
      await store.writePlan({ id: 1, epoch, time: 0, ranges });
      const writes = (p: number, n: number): RedisWrite[] =>
        Array.from({ length: n }, (_, i) => ({ op: 'hincrby', key: 'h', field: `p${p}-${i}`, by: 1 }));
      // Calls: [0, 1, 2] (maxEntries), [3] (4 would pass maxArgs), [4] (larger than maxArgs: alone), [5].
      const sizes = [1, 1, 1, 1, 10, 1];
      const results = await Promise.all(sizes.map((n, p) => commit({ topic: 't', partition: p }, 0n, 10n, writes(p, n))));
      expect(results).toEqual(sizes.map(() => ({ status: 'committed' })));
      expect(store.commitStats).toEqual({ calls: 4, entries: 6 });
      expect(await store.client.hlen(store.keys.output('h'))).toBe(15);
      expect([...(await store.readOffsets()).values()]).toEqual(sizes.map(() => 10n));
    } finally {
      await store.close();
    }
  });
});

/** The commit script's check of a chunk against the stored plan: only the planned batch's ranges, nothing else. */
describe('CheckpointStore: commits only inside the stored plan', () => {
  let store: CheckpointStore;
  let epoch: string;
  const hit: RedisWrite[] = [{ op: 'hincrby', key: 'h', field: 'x', by: 1 }];
  const chunk = (batchId: number, partition: number, from: bigint, until: bigint, pieceStart?: bigint): Promise<ChunkCommitResult> =>
    store.commitChunk({
      batchId,
      epoch,
      tp: { topic: 't', partition },
      from,
      until,
      writes: hit,
      taskFrom: pieceStart ?? from,
      mayStage: pieceStart !== undefined,
      records: Number(until - from),
      bytes: 1,
    });

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('inplan'));
    epoch = await store.takeEpoch();
    await store.writePlan({
      id: 7,
      epoch,
      time: 0,
      ranges: [
        { topic: 't', partition: 0, fromOffset: 450n, untilOffset: 490n },
        { topic: 't', partition: 1, fromOffset: 0n, untilOffset: 10n },
      ],
    });
  });
  afterEach(() => store.close());

  /** Nothing of the job changed but the offsets given (set by the test itself). */
  async function expectNothingWritten(offsets: Record<string, string>): Promise<void> {
    expect(await store.client.hgetall(store.keys.offsets)).toEqual(offsets);
    expect(await store.client.exists(store.keys.output('h'), store.keys.stages, store.keys.counts)).toBe(0);
  }

  it.each<[string, number, number, bigint, bigint, bigint | undefined, string]>([
    [
      'a batch id other than the planned one',
      8,
      0,
      450n,
      490n,
      undefined,
      'batch 8: t:0 [450, 490) is not in the planned batch (batch 7 is planned)',
    ],
    ['a range beyond the planned one', 7, 0, 450n, 600n, undefined, 'batch 7: t:0 [450, 600) is outside its planned range [450, 490)'],
    [
      'a range starting before the planned one',
      7,
      0,
      440n,
      490n,
      undefined,
      'batch 7: t:0 [440, 490) is outside its planned range [450, 490)',
    ],
    ['a partition not in the plan', 7, 2, 0n, 10n, undefined, 'batch 7: t:2 [0, 10) is not in the plan'],
    [
      'a piece beyond the planned range, to be staged',
      7,
      0,
      480n,
      600n,
      480n,
      'batch 7: t:0 [480, 600) is outside its planned range [450, 490)',
    ],
  ])('refuses %s, even where the stored offset is its start', async (_name, batchId, partition, from, until, pieceStart, message) => {
    // The stored offset matches the chunk (or is below its piece), so only the plan check can refuse it.
    await store.client.hset(store.keys.offsets, `t:${partition}`, String(pieceStart === undefined ? from : 450n));
    const offsets = await store.client.hgetall(store.keys.offsets);
    await expect(chunk(batchId, partition, from, until, pieceStart)).rejects.toMatchObject({
      code: 'SLUICE_TASK_OUTSIDE_PLAN',
      message: `[SLUICE_TASK_OUTSIDE_PLAN] ${message}`,
    });
    await expect(store.checkInPlan(batchId, { topic: 't', partition, fromOffset: from, untilOffset: until })).rejects.toThrow(
      `[SLUICE_TASK_OUTSIDE_PLAN] ${message}`
    );
    await expectNothingWritten(offsets);
  });

  it('refuses every commit once the batch committed (no batch planned)', async () => {
    await store.commitBatch(
      { id: 7, epoch, time: 0, ranges: [] },
      { id: 7, epoch, time: 0, records: 0, bytes: 0, schedulingDelayMs: 0, planMs: 0, processingMs: 0, totalDelayMs: 0, ranges: [] },
      10
    );
    await expect(chunk(7, 0, 450n, 490n)).rejects.toThrow(
      '[SLUICE_TASK_OUTSIDE_PLAN] batch 7: t:0 [450, 490) is not in the planned batch (no batch is planned)'
    );
    await expectNothingWritten({ 't:0': '450', 't:1': '0' });
  });

  it('refuses an entry outside the plan and commits the others of the same call', async () => {
    const [outside, inside, piece] = await Promise.allSettled([
      chunk(7, 0, 450n, 600n),
      chunk(7, 1, 0n, 4n),
      chunk(7, 0, 470n, 490n, 470n),
    ]);
    expect(outside.status === 'rejected' && (outside.reason as Error).message).toBe(
      '[SLUICE_TASK_OUTSIDE_PLAN] batch 7: t:0 [450, 600) is outside its planned range [450, 490)'
    );
    expect([inside, piece]).toEqual([
      { status: 'fulfilled', value: { status: 'committed' } },
      { status: 'fulfilled', value: { status: 'staged' } },
    ]);
    expect(await store.readOffsets()).toEqual(
      new Map([
        ['t:0', 450n],
        ['t:1', 4n],
      ])
    );
  });

  it('applies a stage only for the planned batch', async () => {
    await expect(chunk(7, 0, 470n, 490n, 470n)).resolves.toEqual({ status: 'staged' });
    await expect(chunk(7, 0, 450n, 470n)).resolves.toEqual({ status: 'committed' });
    await expect(store.applyStage({ batchId: 8, epoch }, { topic: 't', partition: 0 }, 470n)).rejects.toThrow(
      '[SLUICE_TASK_OUTSIDE_PLAN] batch 8: t:0 [470, 490) is not in the planned batch (batch 7 is planned)'
    );
    expect(await store.readOffset({ topic: 't', partition: 0 })).toBe(470n);
    await expect(store.applyStage({ batchId: 7, epoch }, { topic: 't', partition: 0 }, 470n)).resolves.toEqual({ status: 'committed' });
    expect(await store.readOffset({ topic: 't', partition: 0 })).toBe(490n);
  });
});

/** What the commit script counts per task range, which the batch summary reports. */
describe('CheckpointStore: records counted for the batch in flight', () => {
  let store: CheckpointStore;
  let epoch: string;
  let commit: Commit;
  const tp = { topic: 't', partition: 0 };
  const plan = (id: number, planEpoch: string, fromOffset = 0n): Parameters<CheckpointStore['writePlan']>[0] => ({
    id,
    epoch: planEpoch,
    time: 0,
    ranges: [{ ...tp, fromOffset, untilOffset: 30n }],
  });

  beforeEach(async () => {
    store = await CheckpointStore.connect(redisUrl(), uniqueName('counts'));
    epoch = await store.takeEpoch();
    commit = committer(store, epoch);
    await store.writePlan(plan(1, epoch));
  });
  afterEach(() => store.close());

  it('counts each committed chunk once under its task range, staged pieces when applied', async () => {
    await commit(tp, 0n, 4n, []);
    await commit(tp, 0n, 4n, []); // a retry of a committed chunk: skipped, not counted
    await commit(tp, 4n, 10n, [], 0n);
    await commit(tp, 20n, 30n, [], 20n);
    await commit(tp, 10n, 20n, [], 10n);
    expect(await store.batchCounts()).toEqual([
      { ...tp, from: 0n, records: 10, bytes: 0 },
      { ...tp, from: 10n, records: 10, bytes: 0 },
    ]);
    await store.applyStage({ batchId: 1, epoch }, tp, 20n);
    expect(await store.batchCounts()).toContainEqual({ ...tp, from: 20n, records: 10, bytes: 0 });
  });

  it('keeps the counts when the batch is replayed, and drops them with the batch commit or a new plan', async () => {
    await commit(tp, 0n, 10n, []);
    const replayEpoch = await store.takeEpoch();
    await store.writePlan(plan(1, replayEpoch));
    expect(await store.batchCounts()).toEqual([{ ...tp, from: 0n, records: 10, bytes: 0 }]);

    // Another batch planned over batch 1 (as after an offsets reset) starts with no counts.
    await store.writePlan(plan(2, replayEpoch, 10n));
    expect(await store.batchCounts()).toEqual([]);

    await committer(store, replayEpoch, 2)(tp, 10n, 30n, []);
    await store.commitBatch(
      plan(2, replayEpoch, 10n),
      {
        id: 2,
        epoch: replayEpoch,
        time: 0,
        records: 30,
        bytes: 0,
        schedulingDelayMs: 0,
        planMs: 0,
        processingMs: 0,
        totalDelayMs: 0,
        ranges: [],
      },
      10
    );
    expect(await store.client.exists(store.keys.counts, store.keys.planned)).toBe(0);
  });
});
