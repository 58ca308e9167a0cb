// Original file: proto/sluice/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/sluice/v1/executor.proto

export const _sluice_v1_TaskResult_Status = {
  STATUS_UNSPECIFIED: 'STATUS_UNSPECIFIED',
  /**
   * This attempt committed (the rest of) the range.
   */
  COMMITTED: 'COMMITTED',
  /**
   * The range had already been committed by an earlier attempt; nothing was applied.
   */
  ALREADY_COMMITTED: 'ALREADY_COMMITTED',
  /**
   * (may_stage) all or part of the range waits in a stage for the driver to apply.
   */
  STAGED: 'STAGED',
} as const;

export type _sluice_v1_TaskResult_Status =
  | 'STATUS_UNSPECIFIED'
  | 0
  /**
   * This attempt committed (the rest of) the range.
   */
  | 'COMMITTED'
  | 1
  /**
   * The range had already been committed by an earlier attempt; nothing was applied.
   */
  | 'ALREADY_COMMITTED'
  | 2
  /**
   * (may_stage) all or part of the range waits in a stage for the driver to apply.
   */
  | 'STAGED'
  | 3

export type _sluice_v1_TaskResult_Status__Output = typeof _sluice_v1_TaskResult_Status[keyof typeof _sluice_v1_TaskResult_Status]

export interface TaskResult {
  'status'?: (_sluice_v1_TaskResult_Status);
  'executor_id'?: (string);
  'records'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  'fetch_ms'?: (number);
  'process_ms'?: (number);
  'commit_ms'?: (number);
  'total_ms'?: (number);
  /**
   * Chunks committed by this attempt (each one Redis round trip).
   */
  'chunks'?: (number);
}

export interface TaskResult__Output {
  'status': (_sluice_v1_TaskResult_Status__Output);
  'executor_id': (string);
  'records': (string);
  'bytes': (string);
  'fetch_ms': (number);
  'process_ms': (number);
  'commit_ms': (number);
  'total_ms': (number);
  /**
   * Chunks committed by this attempt (each one Redis round trip).
   */
  'chunks': (number);
}
