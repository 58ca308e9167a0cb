export { blockRanges, decodeBlock, encodeBlock, blockBytes, type BlockInfo } from './blocks';
export { BlockLog, blockKeys, nextEntryId, type BlockBatch, type BlockCommitOutcome } from './block-log';
export { fromWireBlock, receiverIdPattern, toWireBlock } from './wire';
