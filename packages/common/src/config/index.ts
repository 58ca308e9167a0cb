export { configSchema, startingOffsetsSchema, type SluiceConfig, type StartingOffsets } from './schema';
export { loadConfig, configFromEnv, type ConfigSources } from './load';
