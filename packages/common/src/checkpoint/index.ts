export {
  CheckpointStore,
  redactUrl,
  type BatchPlan,
  type BatchSummary,
  type ChunkCommit,
  type ChunkCommitResult,
  type CommitCallLimits,
  type RangeCount,
  type RedisWait,
  type StoreOptions,
  type TaskBatch,
} from './store';
export { checkRedisAccess, type RedisRole } from './access';
export { jobKeys, type JobKeys } from './keys';
export { asRedisOutage } from './outage';
export { createRedis, redisTargetUrl, type RedisTarget } from './connection';
