import { abortableWait, isSluiceError, type CheckpointStore, type Logger, type Sink, type TopicPartition } from '@sluice/common';

/*
 * Sinks that keep the job's offsets in their own store (postgresSink, kafkaSink): that store is the authority,
 * and the Redis checkpoint follows it forward. A process that dies between the sink's commit and
 * the Redis one leaves Redis behind; the next leader moves it forward before it plans or replays,
 * so the records the sink holds are not processed again.
 */

/** How long to wait between asking a sink's store that does not answer. */
const SINK_RETRY_MS = 1000;

export interface FollowSinkOffsets {
  store: CheckpointStore;
  /** The leader's epoch: a fenced driver moves nothing. */
  epoch: string;
  job: string;
  partitions: () => Promise<TopicPartition[]>;
  logger: Logger;
  /** Ends the wait for a sink's store that does not answer (the driver is stopping). */
  signal: AbortSignal;
}

/**
 * Moves every Redis checkpoint behind the sink's own offset forward to it (never back), logging
 * each move. Waits, logging, while the sink's store is unavailable.
 * @throws FencedError when another driver took over; the sink's error when it is not an outage.
 */
export async function followSinkOffsets(sink: Sink<unknown> | undefined, options: FollowSinkOffsets): Promise<void> {
  if (!sink?.committedOffsets) return;
  const { store, epoch, job, logger, signal } = options;
  const partitions = await options.partitions();
  let offsets: Awaited<ReturnType<NonNullable<Sink<unknown>['committedOffsets']>>>;
  for (;;) {
    try {
      offsets = await sink.committedOffsets(partitions, { job, logger });
      break;
    } catch (e) {
      if (!isSluiceError(e) || e.code !== 'SLUICE_SINK_UNAVAILABLE' || signal.aborted) throw e;
      logger.error({ err: e.message }, `the ${sink.kind} sink's store is unavailable: no batch is planned until it answers`);
      await abortableWait(SINK_RETRY_MS, signal);
    }
  }
  for (const moved of await store.followOffsets(epoch, offsets)) {
    logger.warn(
      { partition: moved.field, from: moved.from?.toString() ?? null, to: moved.to.toString() },
      `checkpoint moved forward to the offset the ${sink.kind} sink committed (a commit to Redis was lost)`
    );
  }
}
