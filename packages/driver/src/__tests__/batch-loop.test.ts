import {
  ConfigError,
  createLogger,
  KafkaUnavailableError,
  partitionKey,
  RedisUnavailableError,
  SinkUnavailableError,
  SluiceError,
  type BatchPlan,
  type OffsetRange,
  type TopicPartition,
} from '@sluice/common';
import type { DriverState } from '../api/http';
import { BatchLoop, type BatchLoopDependencies, type BatchLoopSettings, type LoopClock } from '../batch-loop';
import type { BoundedRun } from '../bounded-run';
import type { BatchTiming } from '../dispatch/batch-execution';

/**
 * The batch loop against fakes of the checkpoint store, Kafka, the planning and the execution, on
 * a fake clock: the batch grid, replays, outages and bounded runs, step by step, without waiting.
 */

const WALL_START = 1_700_000_000_000;

/** A clock that moves only when the loop waits or a fake step takes time. */
class FakeClock implements LoopClock {
  ms = 0;
  readonly waits: number[] = [];
  now(): number {
    return this.ms;
  }
  wallTime(): number {
    return WALL_START + this.ms;
  }
  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    this.waits.push(ms);
    if (signal.aborted) return Promise.resolve(false);
    this.ms += ms;
    return Promise.resolve(true);
  }
}

const tp: TopicPartition = { topic: 't', partition: 0 };
const key = partitionKey(tp);

interface Executed {
  plan: BatchPlan;
  timing: BatchTiming;
  replayed: boolean;
  bounded?: BoundedRun;
  /** Monotonic time the execution started. */
  at: number;
}

/**
 * Redis as the loop sees it: the planned batch, the last committed batch id and the checkpoint, with
 * Redis (ping) or Kafka (listTopics) answering or not; a planner that plans the next 10 offsets of
 * one partition and writes the plan, and an execution that commits a plan (taking `batchMs`).
 */
function harness(options: { batchMs?: (plan: BatchPlan) => number; settings?: Partial<BatchLoopSettings> } = {}) {
  const clock = new FakeClock();
  const controller = new AbortController();
  const redis = { planned: null as BatchPlan | null, lastCommitted: 0, checkpoint: new Map<string, bigint>() };
  const down = { redis: 0, kafka: 0 };
  const states: DriverState[] = [];
  const planned: Array<{ id: number; time: number; at: number }> = [];
  const executed: Executed[] = [];
  const failures: Array<(plan: BatchPlan) => Error | undefined> = [];
  const events: string[] = [];
  const deps: BatchLoopDependencies = {
    store: {
      readPlan: () => Promise.resolve(redis.planned),
      lastCommittedBatchId: () => Promise.resolve(redis.lastCommitted),
      writePlan: (plan: BatchPlan) => {
        events.push(`write plan ${plan.id} (epoch ${plan.epoch})`);
        redis.planned = plan;
        return Promise.resolve();
      },
      readOffsets: () => Promise.resolve(new Map(redis.checkpoint)),
      client: {
        ping: () => (down.redis-- > 0 ? Promise.reject(new Error('connection refused')) : Promise.resolve('PONG')),
      },
    },
    oracle: {
      listTopics: () => (down.kafka-- > 0 ? Promise.reject(new Error('connection refused')) : Promise.resolve(['t'])),
      latestOffsets: () => Promise.resolve(new Map([[key, 30n]])),
      offsetsForTimes: () => Promise.resolve(new Map([[key, 20n]])),
    },
    planner: {
      resolve: () => Promise.resolve({ partitions: [tp], missing: [] }),
      plan: async ({ time, epoch, bounded }) => {
        const from = redis.checkpoint.get(key) ?? 0n;
        const stop = bounded?.stopAt.get(key);
        const until = stop !== undefined && stop < from + 10n ? stop : from + 10n;
        const range: OffsetRange = { ...tp, fromOffset: from, untilOffset: until };
        const plan: BatchPlan = { id: redis.lastCommitted + 1, epoch, time, ranges: [range] };
        planned.push({ id: plan.id, time, at: clock.ms });
        events.push(`plan ${plan.id}`);
        await deps.store.writePlan(plan);
        return plan;
      },
    },
    execution: {
      execute: (plan, { timing, replayed, bounded }) => {
        executed.push({ plan, timing, replayed, bounded, at: clock.ms });
        events.push(`execute ${plan.id}${replayed ? ' (replayed)' : ''}`);
        clock.ms += options.batchMs?.(plan) ?? 100;
        const failure = failures.shift()?.(plan);
        if (failure) return Promise.reject(failure);
        for (const r of plan.ranges) redis.checkpoint.set(partitionKey(r), r.untilOffset);
        redis.lastCommitted = plan.id;
        redis.planned = null;
        return Promise.resolve();
      },
    },
    waitForExecutors: () => Promise.resolve(),
    setState: (state) => states.push(state),
    logger: createLogger('silent'),
    clock,
  };
  const settings: BatchLoopSettings = {
    epoch: '2',
    batchIntervalMs: 1000,
    batches: 0,
    until: 'none',
    signal: controller.signal,
    ...options.settings,
  };
  return { loop: new BatchLoop(settings, deps), clock, controller, redis, down, states, planned, executed, failures, events };
}

describe('BatchLoop', () => {
  it('plans each batch on the interval grid, at the wall time it was due', async () => {
    const h = harness({ settings: { batches: 3 } });
    await h.loop.run();
    expect(h.planned).toEqual([
      { id: 1, time: WALL_START, at: 0 },
      { id: 2, time: WALL_START + 1000, at: 1000 },
      { id: 3, time: WALL_START + 2000, at: 2000 },
    ]);
    // Each wait is the rest of the interval after a batch of 100 ms.
    expect(h.clock.waits).toEqual([900, 900]);
    expect(h.executed.map((e) => e.timing)).toEqual([
      { schedulingDelayMs: 0, planMs: 0 },
      { schedulingDelayMs: 0, planMs: 0 },
      { schedulingDelayMs: 0, planMs: 0 },
    ]);
    expect(h.states).toEqual(['waiting-for-executors', 'running', 'stopping']);
  });

  it('a late batch delays the next ones, planned one at a time when each starts, until the grid is caught up', async () => {
    // Batch 1 takes 3.5 intervals: batches 2, 3 and 4 (due at 1000, 2000, 3000) are overdue.
    const h = harness({ batchMs: (plan) => (plan.id === 1 ? 3500 : 100), settings: { batches: 6 } });
    await h.loop.run();
    // Not queued while batch 1 ran: each is planned after the one before it committed, and covers
    // what arrived until then. Their due time is their batch time; the lateness, their scheduling delay.
    expect(h.planned.map(({ id, time, at }) => ({ id, time: time - WALL_START, at }))).toEqual([
      { id: 1, time: 0, at: 0 },
      { id: 2, time: 1000, at: 3500 },
      { id: 3, time: 2000, at: 3600 },
      { id: 4, time: 3000, at: 3700 },
      { id: 5, time: 4000, at: 4000 },
      { id: 6, time: 5000, at: 5000 },
    ]);
    expect(h.executed.map((e) => e.timing.schedulingDelayMs)).toEqual([0, 2500, 1600, 700, 0, 0]);
    expect(h.clock.waits).toEqual([200, 900]);
  });

  it('replays a stored plan not yet committed, under its own epoch, before planning anew', async () => {
    const h = harness({ settings: { batches: 2 } });
    const stored: BatchPlan = { id: 8, epoch: '1', time: WALL_START - 5000, ranges: [{ ...tp, fromOffset: 70n, untilOffset: 75n }] };
    h.redis.planned = stored;
    h.redis.lastCommitted = 7;
    h.redis.checkpoint.set(key, 70n);
    await h.loop.run();
    expect(h.events).toEqual(['write plan 8 (epoch 2)', 'execute 8 (replayed)', 'plan 9', 'write plan 9 (epoch 2)', 'execute 9']);
    // The same ranges and time; the new epoch fences the driver that planned it.
    expect(h.executed[0]).toMatchObject({ plan: { ...stored, epoch: '2' }, replayed: true, timing: { schedulingDelayMs: 0 } });
    expect(h.executed[1]?.plan.ranges).toEqual([{ ...tp, fromOffset: 75n, untilOffset: 85n }]);
  });

  it('does not replay a stored plan that was committed already', async () => {
    const h = harness({ settings: { batches: 1 } });
    h.redis.planned = { id: 7, epoch: '1', time: WALL_START, ranges: [{ ...tp, fromOffset: 60n, untilOffset: 70n }] };
    h.redis.lastCommitted = 7;
    h.redis.checkpoint.set(key, 70n);
    await h.loop.run();
    expect(h.events).toEqual(['plan 8', 'write plan 8 (epoch 2)', 'execute 8']);
  });

  it('waits out a Redis outage, not ready, checking every second, then replays the planned batch', async () => {
    const h = harness({ settings: { batches: 3 } });
    h.failures.push(() => undefined);
    h.failures.push(() => {
      h.down.redis = 2; // two pings fail, the third answers
      return new RedisUnavailableError('Redis is unavailable: connection refused');
    });
    await h.loop.run();
    expect(h.states).toEqual(['waiting-for-executors', 'running', 'redis-unavailable', 'running', 'stopping']);
    expect(h.events).toEqual([
      'plan 1',
      'write plan 1 (epoch 2)',
      'execute 1',
      'plan 2',
      'write plan 2 (epoch 2)',
      'execute 2',
      'write plan 2 (epoch 2)',
      'execute 2 (replayed)',
      'plan 3',
      'write plan 3 (epoch 2)',
      'execute 3',
    ]);
    // 900 to batch 2's due time, three one-second checks, 0 to batch 3 (overdue after the outage).
    expect(h.clock.waits).toEqual([900, 1000, 1000, 1000]);
    expect(h.executed[2]?.plan.ranges).toEqual(h.executed[1]?.plan.ranges);
  });

  it('waits out a Kafka outage by listing topics', async () => {
    const h = harness({ settings: { batches: 1 } });
    h.failures.push(() => {
      h.down.kafka = 1;
      return new KafkaUnavailableError('Kafka is unavailable: connection refused');
    });
    await h.loop.run();
    expect(h.states).toEqual(['waiting-for-executors', 'running', 'kafka-unavailable', 'running', 'stopping']);
    expect(h.events.filter((e) => e.startsWith('execute'))).toEqual(['execute 1', 'execute 1 (replayed)']);
    expect(h.clock.waits).toEqual([1000, 1000]);
  });

  it("waits out the sink's store going down without a probe of its own, then replays the batch", async () => {
    const h = harness({ settings: { batches: 1 } });
    h.failures.push(() => new SinkUnavailableError('postgresSink: Postgres is unavailable (connection refused)'));
    await h.loop.run();
    expect(h.states).toEqual(['waiting-for-executors', 'running', 'sink-unavailable', 'running', 'stopping']);
    expect(h.events.filter((e) => e.startsWith('execute'))).toEqual(['execute 1', 'execute 1 (replayed)']);
    expect(h.clock.waits).toEqual([1000]);
  });

  it('fails on an error that is not an outage, leaving the batch planned', async () => {
    const h = harness({ settings: { batches: 2 } });
    const conflict = new ConfigError('not an outage');
    h.failures.push(() => conflict);
    await expect(h.loop.run()).rejects.toBe(conflict);
    expect(h.redis.planned?.id).toBe(1);
    expect(h.states).toEqual(['waiting-for-executors', 'running']);
  });

  it('a stop request during an outage ends the loop with the outage', async () => {
    const h = harness();
    const outage = new RedisUnavailableError('Redis is unavailable: connection refused');
    h.failures.push(() => {
      h.down.redis = Infinity;
      return outage;
    });
    const originalWait = h.clock.wait.bind(h.clock);
    h.clock.wait = (ms, signal) => {
      if (h.clock.waits.length === 2) h.controller.abort();
      return originalWait(ms, signal);
    };
    await expect(h.loop.run()).rejects.toBe(outage);
    expect(h.clock.waits).toEqual([1000, 1000, 1000]);
  });

  it('a stop request ends the loop after the batch in flight, without planning another', async () => {
    const h = harness();
    h.failures.push(() => {
      h.controller.abort();
      return undefined;
    });
    await h.loop.run();
    expect(h.events).toEqual(['plan 1', 'write plan 1 (epoch 2)', 'execute 1']);
    expect(h.redis.lastCommitted).toBe(1);
    expect(h.states.at(-1)).toBe('stopping');
  });

  it('a stop request whose executors left too ends the loop at once, the batch planned for the next driver', async () => {
    const h = harness();
    h.failures.push(() => {
      h.controller.abort();
      return new SluiceError('SLUICE_NO_EXECUTORS', 'the driver is stopping and no executor is left to run t:0');
    });
    await h.loop.run();
    expect(h.events).toEqual(['plan 1', 'write plan 1 (epoch 2)', 'execute 1']);
    expect([h.redis.planned?.id, h.redis.lastCommitted]).toEqual([1, 0]);
    expect(h.states.at(-1)).toBe('stopping');
  });

  it('no executors while running (not stopping) is no reason to end quietly', async () => {
    const h = harness();
    const none = new SluiceError('SLUICE_NO_EXECUTORS', '0 of 1 executor(s) registered within 60000 ms');
    h.failures.push(() => none);
    await expect(h.loop.run()).rejects.toBe(none);
  });

  it('a bounded run stops once the checkpoint reached the offsets present at start', async () => {
    const h = harness({ settings: { until: 'latest' } });
    h.redis.checkpoint.set(key, 5n);
    await h.loop.run();
    // latest is 30: [5, 15), [15, 25), [25, 30), then no batch is planned.
    expect(h.executed.map((e) => e.plan.ranges.map((r) => [r.fromOffset, r.untilOffset]))).toEqual([
      [[5n, 15n]],
      [[15n, 25n]],
      [[25n, 30n]],
    ]);
    expect(h.executed.map((e) => e.bounded?.progressAfter(e.plan))).toEqual([
      { done: 10, total: 25 },
      { done: 20, total: 25 },
      { done: 25, total: 25 },
    ]);
    expect(h.states.at(-1)).toBe('stopping');
  });

  it('a bounded run already done at start plans nothing', async () => {
    const h = harness({ settings: { until: { timestamp: WALL_START } } });
    h.redis.checkpoint.set(key, 20n); // offsetsForTimes answers 20
    await h.loop.run();
    expect(h.events).toEqual([]);
  });
});
