// Original file: proto/sluice/v1/driver.proto


export interface RegisterRequest {
  'executor_id'?: (string);
  /**
   * host:port of the executor's gRPC server, reachable from the driver.
   */
  'address'?: (string);
  /**
   * Tasks the executor runs at once.
   */
  'slots'?: (number);
  /**
   * The job the executor loaded; the driver refuses executors of another job.
   */
  'job'?: (string);
}

export interface RegisterRequest__Output {
  'executor_id': (string);
  /**
   * host:port of the executor's gRPC server, reachable from the driver.
   */
  'address': (string);
  /**
   * Tasks the executor runs at once.
   */
  'slots': (number);
  /**
   * The job the executor loaded; the driver refuses executors of another job.
   */
  'job': (string);
}
