/**
 * @module @sluice/executor
 *
 * An executor of a sluice job: serves tasks over gRPC, reads each task's offset range from Kafka,
 * runs the job's `process` and commits output and offsets atomically through the job's sink.
 */
export { Executor } from './executor';
export { TaskRunner, type Task, type TaskReport } from './task-runner';
