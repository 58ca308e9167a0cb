// Original file: proto/sluice/v1/executor.proto

import type { Block as _sluice_v1_Block, Block__Output as _sluice_v1_Block__Output } from '../../sluice/v1/Block';

export interface ReceiverEvent {
  'block'?: (_sluice_v1_Block | null);
  /**
   * The receiver joined its consumer group and receives.
   */
  'started'?: (boolean);
  'event'?: "block"|"started";
}

export interface ReceiverEvent__Output {
  'block'?: (_sluice_v1_Block__Output | null);
  /**
   * The receiver joined its consumer group and receives.
   */
  'started'?: (boolean);
  'event'?: "block"|"started";
}
