export {
  DeadLetterQueue,
  deadLetterId,
  deadLetterPrefix,
  deadLetterQueueName,
  deadLetterQueueSize,
  deadLetterReplayedKey,
  fromDeadLetter,
  pendingStates,
  recordBytes,
  toDeadLetter,
  type DeadLetter,
  type DeadLetterEntry,
  type DeadLetterQueueOptions,
  type PoisonReason,
} from './dead-letter-queue';
export { replayDeadLetters, type ReplayOptions, type ReplayReport } from './replay';
