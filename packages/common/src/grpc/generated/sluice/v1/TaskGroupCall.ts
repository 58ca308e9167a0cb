// Original file: proto/sluice/v1/executor.proto

import type { TaskRequest as _sluice_v1_TaskRequest, TaskRequest__Output as _sluice_v1_TaskRequest__Output } from '../../sluice/v1/TaskRequest';
import type { Long } from '@grpc/proto-loader';

export interface TaskGroupCall {
  /**
   * Chosen by the driver, unique on its stream; the answer carries it back.
   */
  'call_id'?: (number | string | Long);
  /**
   * The executor stops the group's tasks after this long (what a unary call's deadline does).
   */
  'timeout_ms'?: (number);
  'tasks'?: (_sluice_v1_TaskRequest)[];
}

export interface TaskGroupCall__Output {
  /**
   * Chosen by the driver, unique on its stream; the answer carries it back.
   */
  'call_id': (string);
  /**
   * The executor stops the group's tasks after this long (what a unary call's deadline does).
   */
  'timeout_ms': (number);
  'tasks': (_sluice_v1_TaskRequest__Output)[];
}
