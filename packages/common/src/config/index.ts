export {
  assignSchema,
  configSchema,
  startingOffsetsSchema,
  subscriptionKeys,
  topicPatternSchema,
  type SluiceConfig,
  type StartingOffsets,
  type TopicAssignment,
} from './schema';
export { loadConfig, configFromEnv, type ConfigSources } from './load';
