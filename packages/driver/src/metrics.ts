import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LagReport } from './lag';

const delayBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** The driver's Prometheus metrics (its own registry, plus prom-client's default process metrics). */
export class DriverMetrics {
  readonly registry = new Registry();
  readonly batches: Counter<'outcome'>;
  readonly schedulingDelay: Histogram;
  readonly processing: Histogram;
  readonly totalDelay: Histogram;
  readonly records: Counter;
  readonly bytes: Counter;
  readonly lostRecords: Counter;
  readonly partitionLag: Gauge<'topic' | 'partition'>;
  readonly lag: Gauge<'stat'>;
  readonly taskDuration: Histogram;
  readonly taskRetries: Counter;
  readonly speculativeTasks: Counter;
  readonly taskGroups: Counter;
  readonly executorsLive: Gauge;
  readonly leader: Gauge;
  readonly deadLetterQueueSize: Gauge;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
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
    this.records = new Counter({ name: 'sluice_records_total', help: 'Records in committed batches', registers });
    this.bytes = new Counter({ name: 'sluice_bytes_total', help: 'Key and value bytes in committed batches', registers });
    this.lostRecords = new Counter({
      name: 'sluice_lost_records_total',
      help: 'Records deleted (retention) before they were processed, skipped with failOnDataLoss=false',
      registers,
    });
    this.partitionLag = new Gauge({
      name: 'sluice_partition_lag',
      help: 'Latest offset minus checkpointed offset, per partition',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.lag = new Gauge({
      name: 'sluice_lag_offsets',
      help: 'Lag over all partitions: min, max, avg, total',
      labelNames: ['stat'],
      registers,
    });
    this.taskDuration = new Histogram({
      name: 'sluice_task_duration_seconds',
      help: 'Duration of successful task attempts as the executor measured them',
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

  setLag(report: LagReport): void {
    this.partitionLag.reset();
    for (const p of report.partitions) this.partitionLag.set({ topic: p.topic, partition: String(p.partition) }, Number(p.lag));
    this.lag.set({ stat: 'min' }, report.min);
    this.lag.set({ stat: 'max' }, report.max);
    this.lag.set({ stat: 'avg' }, report.avg);
    this.lag.set({ stat: 'total' }, Number(report.total));
  }
}
