// Original file: proto/sluice/v1/executor.proto

import type { ReceiverStart as _sluice_v1_ReceiverStart, ReceiverStart__Output as _sluice_v1_ReceiverStart__Output } from '../../sluice/v1/ReceiverStart';

export interface ReceiverCall {
  'start'?: (_sluice_v1_ReceiverStart | null);
  /**
   * The driver recorded this block: its offsets may be committed to the group.
   */
  'ack_block_id'?: (string);
  /**
   * A new rate limit (the backpressure estimate), records/s; 0 = no limit.
   */
  'max_rate'?: (number | string);
  'call'?: "start"|"ack_block_id"|"max_rate";
}

export interface ReceiverCall__Output {
  'start'?: (_sluice_v1_ReceiverStart__Output | null);
  /**
   * The driver recorded this block: its offsets may be committed to the group.
   */
  'ack_block_id'?: (string);
  /**
   * A new rate limit (the backpressure estimate), records/s; 0 = no limit.
   */
  'max_rate'?: (number);
  'call'?: "start"|"ack_block_id"|"max_rate";
}
