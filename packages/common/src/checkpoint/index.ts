export { CheckpointStore, redactUrl, type RedisWait, type StoreOptions } from './store';
export type { BatchPlan, BatchSummary, ChunkCommit, ChunkCommitResult, CommitCallLimits, OffsetSkip, RangeCount, TaskBatch } from './types';
export { checkRedisAccess, type RedisRole } from './access';
export { jobKeys, type JobKeys } from './keys';
export { asRedisOutage } from './outage';
export { createRedis, redisTargetUrl, type RedisTarget } from './connection';
