// Original file: proto/sluice/v1/executor.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BlockTaskRequest as _sluice_v1_BlockTaskRequest, BlockTaskRequest__Output as _sluice_v1_BlockTaskRequest__Output } from '../../sluice/v1/BlockTaskRequest';
import type { BlockTaskResult as _sluice_v1_BlockTaskResult, BlockTaskResult__Output as _sluice_v1_BlockTaskResult__Output } from '../../sluice/v1/BlockTaskResult';
import type { CancelTaskRequest as _sluice_v1_CancelTaskRequest, CancelTaskRequest__Output as _sluice_v1_CancelTaskRequest__Output } from '../../sluice/v1/CancelTaskRequest';
import type { CancelTaskResponse as _sluice_v1_CancelTaskResponse, CancelTaskResponse__Output as _sluice_v1_CancelTaskResponse__Output } from '../../sluice/v1/CancelTaskResponse';
import type { ReceiverCall as _sluice_v1_ReceiverCall, ReceiverCall__Output as _sluice_v1_ReceiverCall__Output } from '../../sluice/v1/ReceiverCall';
import type { ReceiverEvent as _sluice_v1_ReceiverEvent, ReceiverEvent__Output as _sluice_v1_ReceiverEvent__Output } from '../../sluice/v1/ReceiverEvent';
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
   * Receiver mode (docs/receiver-mode.md): runs a long-running receiver, in one task slot, for as
   * long as the stream is open. The driver's first call starts it; the executor sends one
   * ReceiverEvent per block received (logged first when the write-ahead log is on); the driver
   * records the block in its block log and acknowledges it, and only then does the receiver commit
   * the block's offsets to the Kafka group. Closing the stream stops the receiver.
   */
  Receive(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_ReceiverCall, _sluice_v1_ReceiverEvent__Output>;
  Receive(options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_ReceiverCall, _sluice_v1_ReceiverEvent__Output>;
  /**
   * Receiver mode (docs/receiver-mode.md): runs a long-running receiver, in one task slot, for as
   * long as the stream is open. The driver's first call starts it; the executor sends one
   * ReceiverEvent per block received (logged first when the write-ahead log is on); the driver
   * records the block in its block log and acknowledges it, and only then does the receiver commit
   * the block's offsets to the Kafka group. Closing the stream stops the receiver.
   */
  receive(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_ReceiverCall, _sluice_v1_ReceiverEvent__Output>;
  receive(options?: grpc.CallOptions): grpc.ClientDuplexStream<_sluice_v1_ReceiverCall, _sluice_v1_ReceiverEvent__Output>;
  
  /**
   * Receiver mode: processes the blocks of a batch (from this executor's memory, else from the
   * write-ahead log) and applies each block's output once, atomically with marking it done.
   */
  RunBlockTask(argument: _sluice_v1_BlockTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  RunBlockTask(argument: _sluice_v1_BlockTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  RunBlockTask(argument: _sluice_v1_BlockTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  RunBlockTask(argument: _sluice_v1_BlockTaskRequest, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  /**
   * Receiver mode: processes the blocks of a batch (from this executor's memory, else from the
   * write-ahead log) and applies each block's output once, atomically with marking it done.
   */
  runBlockTask(argument: _sluice_v1_BlockTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  runBlockTask(argument: _sluice_v1_BlockTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  runBlockTask(argument: _sluice_v1_BlockTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  runBlockTask(argument: _sluice_v1_BlockTaskRequest, callback: grpc.requestCallback<_sluice_v1_BlockTaskResult__Output>): grpc.ClientUnaryCall;
  
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
   * Receiver mode (docs/receiver-mode.md): runs a long-running receiver, in one task slot, for as
   * long as the stream is open. The driver's first call starts it; the executor sends one
   * ReceiverEvent per block received (logged first when the write-ahead log is on); the driver
   * records the block in its block log and acknowledges it, and only then does the receiver commit
   * the block's offsets to the Kafka group. Closing the stream stops the receiver.
   */
  Receive: grpc.handleBidiStreamingCall<_sluice_v1_ReceiverCall__Output, _sluice_v1_ReceiverEvent>;
  
  /**
   * Receiver mode: processes the blocks of a batch (from this executor's memory, else from the
   * write-ahead log) and applies each block's output once, atomically with marking it done.
   */
  RunBlockTask: grpc.handleUnaryCall<_sluice_v1_BlockTaskRequest__Output, _sluice_v1_BlockTaskResult>;
  
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
  Receive: MethodDefinition<_sluice_v1_ReceiverCall, _sluice_v1_ReceiverEvent, _sluice_v1_ReceiverCall__Output, _sluice_v1_ReceiverEvent__Output>
  RunBlockTask: MethodDefinition<_sluice_v1_BlockTaskRequest, _sluice_v1_BlockTaskResult, _sluice_v1_BlockTaskRequest__Output, _sluice_v1_BlockTaskResult__Output>
  RunTask: MethodDefinition<_sluice_v1_TaskRequest, _sluice_v1_TaskResult, _sluice_v1_TaskRequest__Output, _sluice_v1_TaskResult__Output>
  TaskGroups: MethodDefinition<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupAnswer, _sluice_v1_TaskGroupCall__Output, _sluice_v1_TaskGroupAnswer__Output>
}
