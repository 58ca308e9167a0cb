// Original file: proto/sluice/v1/executor.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CancelTaskRequest as _sluice_v1_CancelTaskRequest, CancelTaskRequest__Output as _sluice_v1_CancelTaskRequest__Output } from '../../sluice/v1/CancelTaskRequest';
import type { CancelTaskResponse as _sluice_v1_CancelTaskResponse, CancelTaskResponse__Output as _sluice_v1_CancelTaskResponse__Output } from '../../sluice/v1/CancelTaskResponse';
import type { TaskGroupAnswer as _sluice_v1_TaskGroupAnswer, TaskGroupAnswer__Output as _sluice_v1_TaskGroupAnswer__Output } from '../../sluice/v1/TaskGroupAnswer';
import type { TaskGroupCall as _sluice_v1_TaskGroupCall, TaskGroupCall__Output as _sluice_v1_TaskGroupCall__Output } from '../../sluice/v1/TaskGroupCall';
import type { TaskRequest as _sluice_v1_TaskRequest, TaskRequest__Output as _sluice_v1_TaskRequest__Output } from '../../sluice/v1/TaskRequest';
import type { TaskResult as _sluice_v1_TaskResult, TaskResult__Output as _sluice_v1_TaskResult__Output } from '../../sluice/v1/TaskResult';

/**
 * Served by each executor: the driver sends one task per offset range.
 */
export interface ExecutorClient extends grpc.Client {
  /**
   * Stops a running task (its uncommitted chunk is discarded; committed chunks stay).
   */
  CancelTask(argument: _sluice_v1_CancelTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  CancelTask(argument: _sluice_v1_CancelTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  CancelTask(argument: _sluice_v1_CancelTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  CancelTask(argument: _sluice_v1_CancelTaskRequest, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Stops a running task (its uncommitted chunk is discarded; committed chunks stay).
   */
  cancelTask(argument: _sluice_v1_CancelTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  cancelTask(argument: _sluice_v1_CancelTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  cancelTask(argument: _sluice_v1_CancelTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  cancelTask(argument: _sluice_v1_CancelTaskRequest, callback: grpc.requestCallback<_sluice_v1_CancelTaskResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Reads the range, runs the job's process on it and commits output and offset atomically.
   * Idempotent: a task whose range is already committed returns ALREADY_COMMITTED and changes nothing.
   */
  RunTask(argument: _sluice_v1_TaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  RunTask(argument: _sluice_v1_TaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  RunTask(argument: _sluice_v1_TaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  RunTask(argument: _sluice_v1_TaskRequest, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  /**
   * Reads the range, runs the job's process on it and commits output and offset atomically.
   * Idempotent: a task whose range is already committed returns ALREADY_COMMITTED and changes nothing.
   */
  runTask(argument: _sluice_v1_TaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  runTask(argument: _sluice_v1_TaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  runTask(argument: _sluice_v1_TaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  runTask(argument: _sluice_v1_TaskRequest, callback: grpc.requestCallback<_sluice_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  
  /**
   * Groups of small tasks, over one long-lived stream per driver: each TaskGroupCall is answered by
   * a TaskGroupAnswer with the same call_id. A group takes one task slot; its ranges are fetched
   * together, one Fetch per broker, and its tasks run side by side, each succeeding or failing on
   * its own. A stream, not a unary call per group: a call costs a new HTTP/2 stream with headers and
   * trailers on both sides, about 1 ms more per round trip between idle processes.
   * Closing the stream stops the groups still running on it.
   */
  TaskGroups(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupAnswer__Output>;
  TaskGroups(options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupAnswer__Output>;
  /**
   * Groups of small tasks, over one long-lived stream per driver: each TaskGroupCall is answered by
   * a TaskGroupAnswer with the same call_id. A group takes one task slot; its ranges are fetched
   * together, one Fetch per broker, and its tasks run side by side, each succeeding or failing on
   * its own. A stream, not a unary call per group: a call costs a new HTTP/2 stream with headers and
   * trailers on both sides, about 1 ms more per round trip between idle processes.
   * Closing the stream stops the groups still running on it.
   */
  taskGroups(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupAnswer__Output>;
  taskGroups(options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupAnswer__Output>;
  
}

/**
 * Served by each executor: the driver sends one task per offset range.
 */
export interface ExecutorHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Stops a running task (its uncommitted chunk is discarded; committed chunks stay).
   */
  CancelTask: grpc.handleUnaryCall<_sluice_v1_CancelTaskRequest__Output, _sluice_v1_CancelTaskResponse>;
  
  /**
   * Reads the range, runs the job's process on it and commits output and offset atomically.
   * Idempotent: a task whose range is already committed returns ALREADY_COMMITTED and changes nothing.
   */
  RunTask: grpc.handleUnaryCall<_sluice_v1_TaskRequest__Output, _sluice_v1_TaskResult>;
  
  /**
   * Groups of small tasks, over one long-lived stream per driver: each TaskGroupCall is answered by
   * a TaskGroupAnswer with the same call_id. A group takes one task slot; its ranges are fetched
   * together, one Fetch per broker, and its tasks run side by side, each succeeding or failing on
   * its own. A stream, not a unary call per group: a call costs a new HTTP/2 stream with headers and
   * trailers on both sides, about 1 ms more per round trip between idle processes.
   * Closing the stream stops the groups still running on it.
   */
  TaskGroups: grpc.handleBidiStreamingCall<_sluice_v1_TaskGroupCall__Output, _sluice_v1_TaskGroupAnswer>;
  
}

export interface ExecutorDefinition extends grpc.ServiceDefinition {
  CancelTask: MethodDefinition<_sluice_v1_CancelTaskRequest, _sluice_v1_CancelTaskResponse, _sluice_v1_CancelTaskRequest__Output, _sluice_v1_CancelTaskResponse__Output>
  RunTask: MethodDefinition<_sluice_v1_TaskRequest, _sluice_v1_TaskResult, _sluice_v1_TaskRequest__Output, _sluice_v1_TaskResult__Output>
  TaskGroups: MethodDefinition<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupAnswer, _sluice_v1_TaskGroupCall__Output, _sluice_v1_TaskGroupAnswer__Output>
}
