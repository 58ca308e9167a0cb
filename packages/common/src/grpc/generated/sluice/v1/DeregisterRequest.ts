// Original file: proto/sluice/v1/driver.proto


export interface DeregisterRequest {
  'executor_id'?: (string);
}

export interface DeregisterRequest__Output {
  'executor_id': (string);
}
