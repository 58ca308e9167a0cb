// Original file: proto/sluice/v1/driver.proto


export interface HeartbeatRequest {
  'executor_id'?: (string);
  'running_tasks'?: (number);
}

export interface HeartbeatRequest__Output {
  'executor_id': (string);
  'running_tasks': (number);
}
