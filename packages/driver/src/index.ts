/**
 * @module @sluice/driver
 *
 * The driver of a sluice job: plans each batch as one offset range per partition, persists the plan
 * in Redis, dispatches one task per range to executors over gRPC and commits the batch.
 */
export { Driver, resolveJobSettings, type BatchEvent, type DriverDependencies, type DriverJobSettings } from './driver';
export { planRanges, type PlanInput } from './planner';
export { recordCaps, type RateLimits } from './rate-limits';
export { PidRateEstimator, defaultPidSettings, type PidSettings } from './rate-estimator';
export { StickyAssignment } from './assignment';
export { createDriver } from './main';
