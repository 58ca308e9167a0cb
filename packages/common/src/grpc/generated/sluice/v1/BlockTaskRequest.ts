// Original file: proto/sluice/v1/executor.proto

import type { Block as _sluice_v1_Block, Block__Output as _sluice_v1_Block__Output } from '../../sluice/v1/Block';
import type { Long } from '@grpc/proto-loader';

export interface BlockTaskRequest {
  /**
   * "<batch>/blocks@<executor>/<attempt>", unique per attempt.
   */
  'task_id'?: (string);
  'job'?: (string);
  'batch_id'?: (number | string | Long);
  'epoch'?: (number | string | Long);
  'attempt'?: (number);
  'blocks'?: (_sluice_v1_Block)[];
}

export interface BlockTaskRequest__Output {
  /**
   * "<batch>/blocks@<executor>/<attempt>", unique per attempt.
   */
  'task_id': (string);
  'job': (string);
  'batch_id': (string);
  'epoch': (string);
  'attempt': (number);
  'blocks': (_sluice_v1_Block__Output)[];
}
