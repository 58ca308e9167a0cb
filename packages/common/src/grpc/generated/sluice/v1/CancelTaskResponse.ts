// Original file: proto/sluice/v1/executor.proto


export interface CancelTaskResponse {
  'cancelled'?: (boolean);
}

export interface CancelTaskResponse__Output {
  'cancelled': (boolean);
}
