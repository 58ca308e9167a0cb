// Original file: proto/sluice/v1/executor.proto


export interface CancelTaskRequest {
  'task_id'?: (string);
}

export interface CancelTaskRequest__Output {
  'task_id': (string);
}
