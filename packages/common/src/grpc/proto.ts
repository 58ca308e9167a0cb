import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Loads `proto/sluice/v1` once. int64 fields arrive as strings (`longs: String`) and are turned into
 * bigint at the edge; enums as their names.
 */

/** Walks up from this file to the repository's (or image's) `proto/` folder. */
function findProtoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'proto', 'sluice', 'v1', 'driver.proto'))) return join(dir, 'proto');
  }
  throw new Error(`proto/sluice/v1 not found above ${__dirname}`);
}

export interface SluiceServices {
  Driver: grpc.ServiceClientConstructor;
  Executor: grpc.ServiceClientConstructor;
}

let loaded: SluiceServices | undefined;

export function loadServices(): SluiceServices {
  if (loaded) return loaded;
  const root = findProtoRoot();
  const definition = protoLoader.loadSync(['sluice/v1/driver.proto', 'sluice/v1/executor.proto'], {
    includeDirs: [root],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { sluice: { v1: SluiceServices } };
  loaded = pkg.sluice.v1;
  return loaded;
}

/** Messages as proto-loader delivers them (keepCase, int64 as string). */
export interface WireRange {
  topic: string;
  partition: number;
  from_offset: string;
  until_offset: string;
}
export interface WireTaskRequest {
  task_id: string;
  job: string;
  batch_id: string;
  epoch: string;
  attempt: number;
  range: WireRange;
  may_stage: boolean;
  failures: number;
}
/** Why a task, or a whole group, failed: sluice's error code, message and retriable flag. */
export interface WireFailure {
  error_code: string;
  error_message: string;
  retriable: boolean;
}
export interface WireTaskGroupItem extends WireFailure {
  result?: WireTaskResult | null;
}
export interface WireTaskGroupCall {
  call_id: string;
  timeout_ms: number;
  tasks: WireTaskRequest[];
}
/** `items` when the group ran; `error_code` (and no items) when it was refused. */
export interface WireTaskGroupAnswer extends WireFailure {
  call_id: string;
  items: WireTaskGroupItem[];
}
export type WireTaskStatus = 'STATUS_UNSPECIFIED' | 'COMMITTED' | 'ALREADY_COMMITTED' | 'STAGED';
export interface WireTaskResult {
  status: WireTaskStatus;
  executor_id: string;
  records: string;
  bytes: string;
  fetch_ms: number;
  process_ms: number;
  commit_ms: number;
  total_ms: number;
  chunks: number;
}
export interface WireRegisterRequest {
  executor_id: string;
  address: string;
  slots: number;
  job: string;
}
export interface WireRegisterResponse {
  epoch: string;
  heartbeat_interval_ms: number;
}
export interface WireHeartbeatRequest {
  executor_id: string;
  running_tasks: number;
}
export interface WireHeartbeatResponse {
  known: boolean;
  epoch: string;
}

/** Message sizes are set on purpose: a task result is small, a request tiny; 4 MiB is generous. */
export const channelOptions: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};
