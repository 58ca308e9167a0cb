// Original file: proto/sluice/v1/executor.proto

import type { OffsetRange as _sluice_v1_OffsetRange, OffsetRange__Output as _sluice_v1_OffsetRange__Output } from '../../sluice/v1/OffsetRange';
import type { Long } from '@grpc/proto-loader';

export interface Block {
  'block_id'?: (string);
  'receiver_id'?: (string);
  'executor_id'?: (string);
  /**
   * Its write-ahead log entry; empty without the log.
   */
  'wal_entry'?: (string);
  'records'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  /**
   * Per partition, the offsets it covers.
   */
  'ranges'?: (_sluice_v1_OffsetRange)[];
  /**
   * The records of each of ranges, in the same order.
   */
  'range_records'?: (number | string | Long)[];
  /**
   * Bytes its write-ahead log entry holds (0 without the log).
   */
  'log_bytes'?: (number | string | Long);
}

export interface Block__Output {
  'block_id': (string);
  'receiver_id': (string);
  'executor_id': (string);
  /**
   * Its write-ahead log entry; empty without the log.
   */
  'wal_entry': (string);
  'records': (string);
  'bytes': (string);
  /**
   * Per partition, the offsets it covers.
   */
  'ranges': (_sluice_v1_OffsetRange__Output)[];
  /**
   * The records of each of ranges, in the same order.
   */
  'range_records': (string)[];
  /**
   * Bytes its write-ahead log entry holds (0 without the log).
   */
  'log_bytes': (string);
}
