export { CheckpointStore, redactUrl, type BatchPlan, type BatchSummary, type ChunkCommitResult, type CommitCallLimits } from './store';
export { jobKeys, type JobKeys } from './keys';
export { checkRedisAccess, type RedisRole } from './access';
export { asRedisOutage } from './outage';
export { createRedis, redisTargetUrl, type RedisTarget } from './connection';
