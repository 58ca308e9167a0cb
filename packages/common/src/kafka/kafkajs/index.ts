/**
 * The kafkajs implementation of sluice's Kafka access layer (docs/internals.md). kafkajs is
 * pinned at exactly 2.2.4: this layer uses its internal Cluster, Broker and fetch batch.
 */
export { createKafkajsOffsetOracle, KafkajsOffsetOracle } from './offset-oracle';
export { createKafkajsRangeReader, KafkajsRangeReader, type KafkajsRangeReaderOptions } from './range-reader';
export { createKafkajsGroupOffsetClient, KafkajsGroupOffsetClient } from './group-offset-client';
export { kafkajsLogCreator, kafkajsLogLevel } from './log-creator';
export { applyFetch, type FetchStep } from './fetch-step';
export { assertKafkajsInternals, createKafkajsClient, KAFKAJS_VERSION } from './direct-cluster';
export { registerCodecs, type KafkajsCodec } from './codecs';
export { kafkajsSecurity } from './security';
export { createKafkajsGroupConsumer, type GroupConsumer, type GroupConsumerOptions } from './group-consumer';
