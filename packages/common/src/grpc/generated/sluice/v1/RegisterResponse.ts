// Original file: proto/sluice/v1/driver.proto

import type { Long } from '@grpc/proto-loader';

export interface RegisterResponse {
  /**
   * Epoch of the driver that accepted the registration.
   */
  'epoch'?: (number | string | Long);
  'heartbeat_interval_ms'?: (number);
}

export interface RegisterResponse__Output {
  /**
   * Epoch of the driver that accepted the registration.
   */
  'epoch': (string);
  'heartbeat_interval_ms': (number);
}
