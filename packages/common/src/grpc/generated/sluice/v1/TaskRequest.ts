// Original file: proto/sluice/v1/executor.proto

import type { OffsetRange as _sluice_v1_OffsetRange, OffsetRange__Output as _sluice_v1_OffsetRange__Output } from '../../sluice/v1/OffsetRange';
import type { Long } from '@grpc/proto-loader';

export interface TaskRequest {
  /**
   * "<batch>/<topic>:<partition>/<attempt>", unique per attempt.
   */
  'task_id'?: (string);
  'job'?: (string);
  'batch_id'?: (number | string | Long);
  /**
   * The driver epoch; a commit under a stale epoch is refused by Redis.
   */
  'epoch'?: (number | string | Long);
  'attempt'?: (number);
  'range'?: (_sluice_v1_OffsetRange | null);
  /**
   * A later piece of a range split for skew: its chunks may be staged until the pieces before it
   * commit (the driver then applies the stage); see commit-chunks-n.lua.
   */
  'may_stage'?: (boolean);
  /**
   * Earlier attempts of this task that failed on their own account (not those lost with their
   * executor or to a Kafka/Redis outage): the poison policy dead-letters from
   * deadLetter.maxAttempts - 1 of them on.
   */
  'failures'?: (number);
}

export interface TaskRequest__Output {
  /**
   * "<batch>/<topic>:<partition>/<attempt>", unique per attempt.
   */
  'task_id': (string);
  'job': (string);
  'batch_id': (string);
  /**
   * The driver epoch; a commit under a stale epoch is refused by Redis.
   */
  'epoch': (string);
  'attempt': (number);
  'range': (_sluice_v1_OffsetRange__Output | null);
  /**
   * A later piece of a range split for skew: its chunks may be staged until the pieces before it
   * commit (the driver then applies the stage); see commit-chunks-n.lua.
   */
  'may_stage': (boolean);
  /**
   * Earlier attempts of this task that failed on their own account (not those lost with their
   * executor or to a Kafka/Redis outage): the poison policy dead-letters from
   * deadLetter.maxAttempts - 1 of them on.
   */
  'failures': (number);
}
