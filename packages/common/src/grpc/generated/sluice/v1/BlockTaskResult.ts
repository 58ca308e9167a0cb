// Original file: proto/sluice/v1/executor.proto

import type { TaskResult as _sluice_v1_TaskResult, TaskResult__Output as _sluice_v1_TaskResult__Output } from '../../sluice/v1/TaskResult';

export interface BlockTaskResult {
  /**
   * chunks: the blocks this attempt applied.
   */
  'result'?: (_sluice_v1_TaskResult | null);
  /**
   * Blocks of the task found neither in this executor's memory nor in a write-ahead log (their
   * receiver's executor died and the log is off): the driver marks them lost.
   */
  'lost_blocks'?: (string)[];
}

export interface BlockTaskResult__Output {
  /**
   * chunks: the blocks this attempt applied.
   */
  'result': (_sluice_v1_TaskResult__Output | null);
  /**
   * Blocks of the task found neither in this executor's memory nor in a write-ahead log (their
   * receiver's executor died and the log is off): the driver marks them lost.
   */
  'lost_blocks': (string)[];
}
