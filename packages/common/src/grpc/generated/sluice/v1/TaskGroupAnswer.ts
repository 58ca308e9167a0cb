// Original file: proto/sluice/v1/executor.proto

import type { TaskGroupItem as _sluice_v1_TaskGroupItem, TaskGroupItem__Output as _sluice_v1_TaskGroupItem__Output } from '../../sluice/v1/TaskGroupItem';
import type { Long } from '@grpc/proto-loader';

export interface TaskGroupAnswer {
  'call_id'?: (number | string | Long);
  /**
   * One item per task, in the order of the call; empty when the group was refused.
   */
  'items'?: (_sluice_v1_TaskGroupItem)[];
  /**
   * Why the whole group was refused (no free slot, shutting down, a malformed task): sluice's error
   * code (SLUICE_...); empty when the group ran.
   */
  'error_code'?: (string);
  'error_message'?: (string);
  'retriable'?: (boolean);
}

export interface TaskGroupAnswer__Output {
  'call_id': (string);
  /**
   * One item per task, in the order of the call; empty when the group was refused.
   */
  'items': (_sluice_v1_TaskGroupItem__Output)[];
  /**
   * Why the whole group was refused (no free slot, shutting down, a malformed task): sluice's error
   * code (SLUICE_...); empty when the group ran.
   */
  'error_code': (string);
  'error_message': (string);
  'retriable': (boolean);
}
