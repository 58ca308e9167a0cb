import { createProcessRegistry, type BatchPlan, type BatchSummary } from '@sluice/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { LagReport } from '../planning/lag';

const delayBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The driver's Prometheus metrics (its own registry, plus prom-client's default process metrics
 * and `sluice_build_info`). Executors export theirs as `sluice_executor_*`: no name is shared, so
 * a sum over every target counts each thing once. The job's gauges (lag, dead-letter queue) come
 * from the leader only: a standby driver would repeat them.
 */
export class DriverMetrics {
  readonly registry = createProcessRegistry('driver');
  readonly batches: Counter<'outcome'>;
  readonly schedulingDelay: Histogram;
  readonly processing: Histogram;
  readonly totalDelay: Histogram;
  readonly batchRecords: Counter<'topic'>;
  readonly batchOffsets: Counter<'topic'>;
  readonly batchBytes: Counter;
  readonly lastCommittedBatch: Gauge;
  readonly batchInterval: Gauge;
  readonly lostRecords: Counter;
  readonly partitionLag: Gauge<'topic' | 'partition'>;
  readonly partitionLagSeconds: Gauge<'topic' | 'partition'>;
  readonly taskDuration: Histogram;
  readonly taskRetries: Counter;
  readonly speculativeTasks: Counter;
  readonly taskGroups: Counter;
  readonly executorsLive: Gauge;
  readonly leader: Gauge;
  readonly deadLetterQueueSize: Gauge;

  constructor(batchIntervalMs: number) {
    const registers = [this.registry];
    this.batches = new Counter({
      name: 'sluice_batches_total',
      help: 'Batches by outcome (committed, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.batches.inc({ outcome: 'committed' }, 0);
    this.batches.inc({ outcome: 'failed' }, 0);
    this.schedulingDelay = new Histogram({
      name: 'sluice_batch_scheduling_delay_seconds',
      help: 'Time a batch waited after it was due, until planning started',
      buckets: delayBuckets,
      registers,
    });
    this.processing = new Histogram({
      name: 'sluice_batch_processing_seconds',
      help: 'Dispatch of a batch to its last task committed',
      buckets: delayBuckets,
      registers,
    });
    this.totalDelay = new Histogram({
      name: 'sluice_batch_total_delay_seconds',
      help: 'Due time of a batch to its last task committed',
      buckets: delayBuckets,
      registers,
    });
    this.batchRecords = new Counter({
      name: 'sluice_batch_records_total',
      help: 'Records in committed batches, by topic: rate() is the input rate',
      labelNames: ['topic'],
      registers,
    });
    this.batchOffsets = new Counter({
      name: 'sluice_batch_offsets_total',
      help: 'Offsets the committed batches covered as planned (until - from), by topic; more than the records by transaction markers, aborted and compacted records',
      labelNames: ['topic'],
      registers,
    });
    this.batchBytes = new Counter({
      name: 'sluice_batch_bytes_total',
      help: 'Key and value bytes of the records in committed batches',
      registers,
    });
    this.lastCommittedBatch = new Gauge({
      name: 'sluice_last_committed_batch_timestamp_seconds',
      help: "When the job's last batch committed (0: never), in seconds since the epoch",
      registers,
    });
    this.batchInterval = new Gauge({ name: 'sluice_batch_interval_seconds', help: 'The batch interval', registers });
    this.batchInterval.set(batchIntervalMs / 1000);
    this.lostRecords = new Counter({
      name: 'sluice_lost_records_total',
      help: 'Records deleted (retention) before they were processed, skipped with failOnDataLoss=false',
      registers,
    });
    this.partitionLag = new Gauge({
      name: 'sluice_partition_lag_offsets',
      help: 'Latest offset minus checkpointed offset, per partition',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.partitionLagSeconds = new Gauge({
      name: 'sluice_partition_lag_seconds',
      help: 'Age of the oldest record not yet processed, per partition (0 without lag); absent while unknown',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.taskDuration = new Histogram({
      name: 'sluice_batch_task_duration_seconds',
      help: 'Duration of the task attempts that completed the ranges of committed batches, as the executors measured them',
      buckets: delayBuckets,
      registers,
    });
    this.taskRetries = new Counter({ name: 'sluice_task_retries_total', help: 'Task attempts after a failed one', registers });
    this.speculativeTasks = new Counter({ name: 'sluice_speculative_tasks_total', help: 'Speculative task copies launched', registers });
    this.taskGroups = new Counter({
      name: 'sluice_task_groups_total',
      help: 'Task groups: small ranges sent to an executor together',
      registers,
    });
    this.executorsLive = new Gauge({ name: 'sluice_executors_live', help: 'Registered, live executors', registers });
    this.leader = new Gauge({ name: 'sluice_leader', help: '1 while this driver holds the leader lease', registers });
    this.deadLetterQueueSize = new Gauge({ name: 'sluice_dead_letter_queue_size', help: 'Records in the dead-letter queue', registers });
  }

  /** A committed batch: its counts by topic, timings, and when it committed. */
  batchCommitted(plan: BatchPlan, summary: BatchSummary): void {
    this.batches.inc({ outcome: 'committed' });
    this.schedulingDelay.observe(summary.schedulingDelayMs / 1000);
    this.processing.observe(summary.processingMs / 1000);
    this.totalDelay.observe(summary.totalDelayMs / 1000);
    // Every topic of the plan, so that each has its series from the first batch on.
    const byTopic = new Map<string, { records: number; offsets: number }>();
    const of = (topic: string): { records: number; offsets: number } => {
      let counts = byTopic.get(topic);
      if (counts === undefined) byTopic.set(topic, (counts = { records: 0, offsets: 0 }));
      return counts;
    };
    for (const r of plan.ranges) of(r.topic).offsets += Number(r.untilOffset - r.fromOffset);
    for (const r of summary.ranges) of(r.topic).records += r.records;
    for (const [topic, counts] of byTopic) {
      this.batchRecords.inc({ topic }, counts.records);
      this.batchOffsets.inc({ topic }, counts.offsets);
    }
    this.batchBytes.inc(summary.bytes);
    this.lostRecords.inc(summary.lostRecords ?? 0);
    this.lastCommittedBatch.set(Date.now() / 1000);
  }

  /** The lag gauges: one series per partition of `report`, or none (a driver that does not lead). */
  setLag(report: LagReport | undefined): void {
    this.partitionLag.reset();
    this.partitionLagSeconds.reset();
    for (const p of report?.partitions ?? []) {
      const labels = { topic: p.topic, partition: String(p.partition) };
      this.partitionLag.set(labels, Number(p.lag));
      if (p.lagSeconds !== null) this.partitionLagSeconds.set(labels, p.lagSeconds);
    }
  }
}
