/**
 * @module @sluice/common
 *
 * What driver and executors share: the job API (`defineJob` and the built-in sinks), configuration,
 * the error hierarchy, the Kafka access layer, the Redis checkpoint store and the gRPC contract.
 *
 * @example
 * ```ts
 * import { defineJob, redisCounterSink } from '@sluice/common';
 * export default defineJob({
 *   name: 'word-count',
 *   source: { topics: ['lines'], startingOffsets: 'earliest' },
 *   process: (records) => records.flatMap((r) => String(r.value).split(/\s+/).filter(Boolean)),
 *   sink: redisCounterSink({ key: 'counts' }),
 * });
 * ```
 */

// Job API
export { defineJob, isJob } from './job/define-job';
export { loadJob } from './job/load-job';
export { patternRegExp, subscriptionCovers, subscriptionOf, type Subscription } from './job/subscription';
export type {
  BatchSettings,
  ChunkCommitter,
  CommitOutcome,
  DeliveryGuarantee,
  ErrorPolicy,
  Job,
  JobDefinition,
  ProcessContext,
  ProcessResult,
  RedisValue,
  RedisWrite,
  Sink,
  SinkRequirements,
  SourceSettings,
} from './job/types';
export { redisSink, redisCounterSink, idempotentSink } from './sinks/redis-sinks';
export { postgresSink, type PostgresSinkOptions } from './sinks/postgres-sink';
export { kafkaSink, type KafkaSinkOptions, type KafkaSinkOutput } from './sinks/kafka-sink';
export { sinkOutputs } from './sinks/outputs';

// Configuration, errors, logging, metrics
export { readConfigFile, readSecretFile } from './config/files';
export {
  configSchema,
  loadConfig,
  parseConfigJson,
  resolveJobSettings,
  checkSinkSettings,
  longestTaskMs,
  receiverGroupId,
  type AttemptSettings,
  type ConfigSources,
  type JobSettings,
  type SluiceConfig,
  type SourceMode,
  type StartingOffsets,
  type TextSetting,
  type TopicAssignment,
} from './config';
export * from './errors';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logging';
export { abortableWait } from './wait';
export { LeaderLease, readLeader, readLeaseHolder, type Leader, type LeaderInfo, type LeaseHolder } from './lease';
export { buildInfo, createProcessRegistry, type BuildInfo } from './metrics';

// Checkpoint store (Redis + Lua)
export { createRedis, redisTargetUrl, type RedisTarget } from './checkpoint';
export {
  asRedisOutage,
  checkRedisAccess,
  CheckpointStore,
  jobKeys,
  redactUrl,
  type BatchPlan,
  type BatchSummary,
  type ChunkCommit,
  type ChunkCommitResult,
  type CommitCallLimits,
  type JobKeys,
  type OffsetSkip,
  type RangeCount,
  type RedisRole,
  type RedisWait,
  type StoreOptions,
  type TaskBatch,
} from './checkpoint';

// Dead-letter queue (BullMQ) of poison records
export * from './dlq';

// gRPC contract
export * from './grpc';

// Kafka access layer
export * from './kafka/types';
export {
  createKafkajsOffsetOracle,
  createKafkajsRangeReader,
  createKafkajsGroupOffsetClient,
  createKafkajsGroupConsumer,
  type GroupConsumer,
  type GroupConsumerOptions,
  kafkajsLogCreator,
  kafkajsLogLevel,
  kafkajsSecurity,
  type KafkajsRangeReaderOptions,
} from './kafka/kafkajs';
export { registerCodecs } from './kafka/kafkajs';

// Receiver mode: blocks, the write-ahead log and the block log
export * from './receiver';
