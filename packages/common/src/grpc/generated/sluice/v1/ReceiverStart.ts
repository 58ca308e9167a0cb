// Original file: proto/sluice/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface ReceiverStart {
  'receiver_id'?: (string);
  'job'?: (string);
  'epoch'?: (number | string | Long);
  /**
   * Records/s for this receiver; 0 = no limit.
   */
  'max_rate'?: (number | string);
}

export interface ReceiverStart__Output {
  'receiver_id': (string);
  'job': (string);
  'epoch': (string);
  /**
   * Records/s for this receiver; 0 = no limit.
   */
  'max_rate': (number);
}
