/**
 * @module @sluice/driver
 *
 * The driver of a sluice job: plans each batch as one offset range per partition, persists the plan
 * in Redis, dispatches one task per range to executors over gRPC and commits the batch.
 */
export { Driver, type DriverDependencies } from './driver';
export { type BatchEvent } from './dispatch/batch-execution';
export { planRanges, type PlanInput } from './planning/planner';
export { recordCaps, type RateLimits } from './planning/rate-limits';
export { PidRateEstimator, defaultPidSettings, type PidSettings } from './planning/rate-estimator';
export { StickyAssignment } from './planning/assignment';
export { createDriver } from './main';
