// Original file: proto/sluice/v1/executor.proto

import type { TaskResult as _sluice_v1_TaskResult, TaskResult__Output as _sluice_v1_TaskResult__Output } from '../../sluice/v1/TaskResult';

/**
 * The outcome of one task of a group: its result, or why it failed.
 */
export interface TaskGroupItem {
  'result'?: (_sluice_v1_TaskResult | null);
  /**
   * sluice's error code (SLUICE_...) when the task failed; empty when it succeeded.
   */
  'error_code'?: (string);
  'error_message'?: (string);
  'retriable'?: (boolean);
}

/**
 * The outcome of one task of a group: its result, or why it failed.
 */
export interface TaskGroupItem__Output {
  'result': (_sluice_v1_TaskResult__Output | null);
  /**
   * sluice's error code (SLUICE_...) when the task failed; empty when it succeeded.
   */
  'error_code': (string);
  'error_message': (string);
  'retriable': (boolean);
}
