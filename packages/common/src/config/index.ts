export {
  assignSchema,
  configSchema,
  jobNameSchema,
  startingOffsetsSchema,
  subscriptionKeys,
  topicPatternSchema,
  type SluiceConfig,
  type SourceMode,
  type StartingOffsets,
  type TopicAssignment,
} from './schema';
export { loadConfig, configFromEnv, parseConfigJson, type ConfigSources, type TextSetting } from './load';
export { resolveJobSettings, type JobSettings } from './job-settings';
export { checkSinkSettings, longestTaskMs, type AttemptSettings } from './sink-settings';
export { receiverGroupId } from './receiver-mode';
