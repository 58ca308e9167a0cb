import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType as DriverProto } from './generated/driver';
import type { ProtoGrpcType as ExecutorProto } from './generated/executor';
import type { ExecutorClient, ExecutorHandlers } from './generated/sluice/v1/Executor';
import type { DriverClient } from './generated/sluice/v1/Driver';
import type { OffsetRange__Output } from './generated/sluice/v1/OffsetRange';
import type { TaskRequest__Output } from './generated/sluice/v1/TaskRequest';
import type { TaskResult__Output } from './generated/sluice/v1/TaskResult';
import type { TaskGroupItem__Output } from './generated/sluice/v1/TaskGroupItem';
import type { TaskGroupCall__Output } from './generated/sluice/v1/TaskGroupCall';
import type { TaskGroupAnswer__Output } from './generated/sluice/v1/TaskGroupAnswer';
import type { RegisterRequest__Output } from './generated/sluice/v1/RegisterRequest';
import type { RegisterResponse__Output } from './generated/sluice/v1/RegisterResponse';
import type { HeartbeatRequest__Output } from './generated/sluice/v1/HeartbeatRequest';
import type { HeartbeatResponse__Output } from './generated/sluice/v1/HeartbeatResponse';
import type { Block__Output } from './generated/sluice/v1/Block';
import type { BlockTaskRequest__Output } from './generated/sluice/v1/BlockTaskRequest';
import type { BlockTaskResult__Output } from './generated/sluice/v1/BlockTaskResult';
import type { ReceiverCall__Output } from './generated/sluice/v1/ReceiverCall';
import type { ReceiverEvent__Output } from './generated/sluice/v1/ReceiverEvent';

export type { ExecutorClient, ExecutorHandlers, DriverClient };

/**
 * Loads `proto/sluice/v1` once. int64 fields arrive as strings (`longs: String`) and are turned into
 * bigint at the edge; enums as their names. The types in `generated/` (`npm run gen:proto`) are
 * made with the same options.
 */

/** Walks up from this file to the repository's (or image's) `proto/` folder. */
function findProtoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'proto', 'sluice', 'v1', 'driver.proto'))) return join(dir, 'proto');
  }
  throw new Error(`proto/sluice/v1 not found above ${__dirname}`);
}

export type SluiceServices = Pick<DriverProto['sluice']['v1'], 'Driver'> & Pick<ExecutorProto['sluice']['v1'], 'Executor'>;

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
  // The generated types describe what loadPackageDefinition builds from these files and options.
  const pkg = grpc.loadPackageDefinition(definition) as unknown as DriverProto & ExecutorProto;
  loaded = pkg.sluice.v1;
  return loaded;
}

/** Messages as proto-loader delivers them (keepCase, int64 as string, defaults filled in). */
export type WireRange = OffsetRange__Output;
export type WireTaskRequest = TaskRequest__Output;
export type WireTaskGroupItem = TaskGroupItem__Output;
export type WireTaskGroupCall = TaskGroupCall__Output;
export type WireTaskGroupAnswer = TaskGroupAnswer__Output;
export type WireTaskResult = TaskResult__Output;
export type WireTaskStatus = TaskResult__Output['status'];
export type WireRegisterRequest = RegisterRequest__Output;
export type WireRegisterResponse = RegisterResponse__Output;
export type WireHeartbeatRequest = HeartbeatRequest__Output;
export type WireHeartbeatResponse = HeartbeatResponse__Output;
export type WireBlock = Block__Output;
export type WireBlockTaskRequest = BlockTaskRequest__Output;
export type WireBlockTaskResult = BlockTaskResult__Output;
export type WireReceiverCall = ReceiverCall__Output;
export type WireReceiverEvent = ReceiverEvent__Output;
/** Why a task, or a whole group, failed: sluice's error code, message and retriable flag. */
export type WireFailure = Pick<TaskGroupItem__Output, 'error_code' | 'error_message' | 'retriable'>;

/** Message sizes are set on purpose: a task result is small, a request tiny; 4 MiB is generous. */
export const channelOptions: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};
