// Original file: proto/sluice/v1/driver.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatResponse {
  'known'?: (boolean);
  'epoch'?: (number | string | Long);
}

export interface HeartbeatResponse__Output {
  'known': (boolean);
  'epoch': (string);
}
