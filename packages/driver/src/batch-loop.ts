import { performance } from 'node:perf_hooks';
import {
  abortableWait,
  asRedisOutage,
  isDependencyOutage,
  isSluiceError,
  type BatchPlan,
  type CheckpointStore,
  type Logger,
  type OffsetOracle,
  type SluiceConfig,
  type SluiceError,
} from '@sluice/common';
import type { DriverState } from './api/http';
import { BoundedRun, stopOffsets } from './bounded-run';
import type { BatchExecution, BatchTiming } from './dispatch/batch-execution';
import type { BatchPlanner } from './planning/batch-planner';

/** Time as the batch loop reads it; tests pass a fake one. */
export interface LoopClock {
  /** Monotonic milliseconds: the batch grid and the timings. */
  now(): number;
  /** Wall-clock milliseconds since the epoch: a batch's time. */
  wallTime(): number;
  /** Waits `ms`, or less when `signal` aborts (as {@link abortableWait}). */
  wait(ms: number, signal: AbortSignal): Promise<unknown>;
}

export const systemClock: LoopClock = {
  now: () => performance.now(),
  wallTime: () => Date.now(),
  wait: abortableWait,
};

export interface BatchLoopSettings {
  /** The epoch this driver leads under: the plans it makes or replays carry it. */
  epoch: string;
  batchIntervalMs: number;
  /** Stop after this many batches (0 = no limit): `driver.batches`. */
  batches: number;
  until: SluiceConfig['driver']['until'];
  /** Aborted by a stop request: the loop ends after the batch in flight. */
  signal: AbortSignal;
}

export interface BatchLoopDependencies {
  store: Pick<CheckpointStore, 'readPlan' | 'lastCommittedBatchId' | 'writePlan' | 'readOffsets'> & {
    client: { ping(): Promise<unknown> };
  };
  oracle: Pick<OffsetOracle, 'listTopics' | 'latestOffsets' | 'offsetsForTimes'>;
  planner: Pick<BatchPlanner, 'resolve' | 'plan'>;
  execution: Pick<BatchExecution, 'execute'>;
  /** Resolves once enough executors registered (`driver.minExecutors`, `driver.executorWaitMs`). */
  waitForExecutors: () => Promise<void>;
  /** The driver's state as the loop moves it (waiting for executors, running, an outage, stopping). */
  setState: (state: DriverState) => void;
  /** At start and after an outage, before any replay or plan: the checkpoint follows a sink that keeps its own offsets (sink-offsets.ts). */
  followSink?: () => Promise<void>;
  /** Receiver mode (source.mode = receiver): batches of received blocks instead of planned offset ranges. */
  blocks?: {
    replay(epoch: string, timing: BatchTiming): Promise<boolean>;
    next(epoch: string, time: number, timing: BatchTiming): Promise<void>;
  };
  logger: Logger;
  clock?: LoopClock;
}

/**
 * The batch loop: batches strictly one at a time, on a fixed grid of `batchIntervalMs` (a batch
 * due while the previous one still runs waits, and is planned at once when it finishes: late
 * batches do not queue up). A batch planned but not committed (by an earlier driver, or before an
 * outage) is replayed first. Kafka or Redis going away pauses the loop until they answer again.
 */
export class BatchLoop {
  private readonly clock: LoopClock;
  private readonly logger: Logger;

  constructor(
    private readonly settings: BatchLoopSettings,
    private readonly deps: BatchLoopDependencies
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger;
  }

  private get stopping(): boolean {
    return this.settings.signal.aborted;
  }

  /** Runs batches until stopped, `batches` are done, or a bounded run's stop offsets are committed. */
  async run(): Promise<void> {
    const { batches: batchLimit, until, batchIntervalMs: interval } = this.settings;
    const bounded =
      until === 'none'
        ? undefined
        : new BoundedRun(await stopOffsets(this.deps.oracle, (await this.deps.planner.resolve()).partitions, until));
    this.deps.setState('waiting-for-executors');
    await this.deps.waitForExecutors();
    if (!this.stopping) this.deps.setState('running');

    let done = 0;
    // At start and after an outage, a batch planned but not committed is replayed first.
    let recovering = true;
    const startedAt = this.clock.now();
    for (let tick = 0; ; tick++) {
      if (this.stopping || (batchLimit > 0 && done >= batchLimit)) break;
      try {
        if (recovering) await this.deps.followSink?.();
        if (recovering && (await this.replayPlanned(bounded))) {
          recovering = false;
          done++;
          continue;
        }
        recovering = false;
        if (bounded && (await bounded.reached(this.deps.store))) break;
        const dueAt = startedAt + tick * interval;
        const wait = dueAt - this.clock.now();
        if (wait > 0) await this.clock.wait(wait, this.settings.signal);
        if (this.stopping) break;
        const planStarted = this.clock.now();
        const time = this.clock.wallTime() - Math.max(0, planStarted - dueAt);
        if (this.deps.blocks) {
          await this.deps.blocks.next(this.settings.epoch, time, { schedulingDelayMs: Math.max(0, planStarted - dueAt), planMs: 0 });
        } else {
          const plan = await this.deps.planner.plan({ time, epoch: this.settings.epoch, bounded });
          const timing = { schedulingDelayMs: Math.max(0, planStarted - dueAt), planMs: this.clock.now() - planStarted };
          await this.deps.execution.execute(plan, { timing, replayed: false, bounded });
        }
        done++;
      } catch (e) {
        if (this.stopping && isSluiceError(e) && e.code === 'SLUICE_NO_EXECUTORS') {
          this.logger.warn(
            { err: e.message },
            'stopped with the batch in flight unfinished: it stays planned and the next driver replays it'
          );
          break;
        }
        await this.waitOutOutage(e);
        recovering = true;
      }
    }
    this.deps.setState('stopping');
    this.logger.info({ batches: done }, 'driver loop finished');
  }

  /** Replays the planned batch if there is one not yet committed (planned by an earlier driver, or before an outage). */
  private async replayPlanned(bounded: BoundedRun | undefined): Promise<boolean> {
    if (this.deps.blocks) return this.deps.blocks.replay(this.settings.epoch, { schedulingDelayMs: 0, planMs: 0 });
    const store = this.deps.store;
    const pending = await store.readPlan();
    if (!pending || pending.id !== (await store.lastCommittedBatchId()) + 1) return false;
    this.logger.warn({ batch: pending.id, plannedEpoch: pending.epoch }, 'replaying a planned but uncommitted batch');
    const replay: BatchPlan = { ...pending, epoch: this.settings.epoch };
    const planStarted = this.clock.now();
    await store.writePlan(replay);
    const timing = { schedulingDelayMs: 0, planMs: this.clock.now() - planStarted };
    await this.deps.execution.execute(replay, { timing, replayed: true, bounded });
    return true;
  }

  /**
   * Kafka, Redis or the sink's store unreachable: not ready, no planning, until it answers again
   * (checked every second; the sink's store has no probe of its own, the replayed batch's tasks are it).
   * @throws `e` itself when it is not an outage, or when the driver is stopped meanwhile.
   */
  private async waitOutOutage(e: unknown): Promise<void> {
    const error = asRedisOutage(e);
    if (!isDependencyOutage(error) || this.stopping) throw error;
    const outage = error as SluiceError;
    const state = outageState(outage);
    const dependency = { 'redis-unavailable': 'Redis', 'kafka-unavailable': 'Kafka', 'sink-unavailable': "The sink's store" }[state];
    this.deps.setState(state);
    this.logger.error(
      { err: outage.message },
      `${dependency} is unavailable: no batch is planned until it answers again; the planned batch is then replayed`
    );
    for (;;) {
      await this.clock.wait(1000, this.settings.signal);
      if (this.stopping) throw outage;
      try {
        if (state === 'redis-unavailable') await this.deps.store.client.ping();
        else if (state === 'kafka-unavailable') await this.deps.oracle.listTopics();
        break;
      } catch {
        // Still down.
      }
    }
    this.logger.warn(`${dependency} answers again: resuming`);
    this.deps.setState('running');
  }
}

/** The state of a driver waiting out an outage of Redis, Kafka or the sink's own store. */
export function outageState(e: SluiceError): OutageState {
  if (e.code === 'SLUICE_REDIS_UNAVAILABLE') return 'redis-unavailable';
  return e.code === 'SLUICE_SINK_UNAVAILABLE' ? 'sink-unavailable' : 'kafka-unavailable';
}

export type OutageState = Extract<DriverState, `${string}-unavailable`>;
