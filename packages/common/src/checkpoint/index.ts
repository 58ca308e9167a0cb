export {
  CheckpointStore,
  redactUrl,
  type BatchPlan,
  type BatchSummary,
  type ChunkCommitResult,
  type CommitCallLimits,
  type RedisWait,
  type StoreOptions,
} from './store';
export { checkRedisAccess, type RedisRole } from './access';
export { jobKeys, type JobKeys } from './keys';
export { asRedisOutage } from './outage';
export { createRedis, redisTargetUrl, type RedisTarget } from './connection';
