// Original file: proto/sluice/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface OffsetRange {
  'topic'?: (string);
  'partition'?: (number);
  /**
   * inclusive
   */
  'from_offset'?: (number | string | Long);
  /**
   * exclusive
   */
  'until_offset'?: (number | string | Long);
}

export interface OffsetRange__Output {
  'topic': (string);
  'partition': (number);
  /**
   * inclusive
   */
  'from_offset': (string);
  /**
   * exclusive
   */
  'until_offset': (string);
}
