import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Block as _sluice_v1_Block, Block__Output as _sluice_v1_Block__Output } from './sluice/v1/Block';
import type { BlockTaskRequest as _sluice_v1_BlockTaskRequest, BlockTaskRequest__Output as _sluice_v1_BlockTaskRequest__Output } from './sluice/v1/BlockTaskRequest';
import type { BlockTaskResult as _sluice_v1_BlockTaskResult, BlockTaskResult__Output as _sluice_v1_BlockTaskResult__Output } from './sluice/v1/BlockTaskResult';
import type { CancelTaskRequest as _sluice_v1_CancelTaskRequest, CancelTaskRequest__Output as _sluice_v1_CancelTaskRequest__Output } from './sluice/v1/CancelTaskRequest';
import type { CancelTaskResponse as _sluice_v1_CancelTaskResponse, CancelTaskResponse__Output as _sluice_v1_CancelTaskResponse__Output } from './sluice/v1/CancelTaskResponse';
import type { ExecutorClient as _sluice_v1_ExecutorClient, ExecutorDefinition as _sluice_v1_ExecutorDefinition } from './sluice/v1/Executor';
import type { OffsetRange as _sluice_v1_OffsetRange, OffsetRange__Output as _sluice_v1_OffsetRange__Output } from './sluice/v1/OffsetRange';
import type { ReceiverCall as _sluice_v1_ReceiverCall, ReceiverCall__Output as _sluice_v1_ReceiverCall__Output } from './sluice/v1/ReceiverCall';
import type { ReceiverEvent as _sluice_v1_ReceiverEvent, ReceiverEvent__Output as _sluice_v1_ReceiverEvent__Output } from './sluice/v1/ReceiverEvent';
import type { ReceiverStart as _sluice_v1_ReceiverStart, ReceiverStart__Output as _sluice_v1_ReceiverStart__Output } from './sluice/v1/ReceiverStart';
import type { TaskGroupAnswer as _sluice_v1_TaskGroupAnswer, TaskGroupAnswer__Output as _sluice_v1_TaskGroupAnswer__Output } from './sluice/v1/TaskGroupAnswer';
import type { TaskGroupCall as _sluice_v1_TaskGroupCall, TaskGroupCall__Output as _sluice_v1_TaskGroupCall__Output } from './sluice/v1/TaskGroupCall';
import type { TaskGroupItem as _sluice_v1_TaskGroupItem, TaskGroupItem__Output as _sluice_v1_TaskGroupItem__Output } from './sluice/v1/TaskGroupItem';
import type { TaskRequest as _sluice_v1_TaskRequest, TaskRequest__Output as _sluice_v1_TaskRequest__Output } from './sluice/v1/TaskRequest';
import type { TaskResult as _sluice_v1_TaskResult, TaskResult__Output as _sluice_v1_TaskResult__Output } from './sluice/v1/TaskResult';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  sluice: {
    v1: {
      Block: MessageTypeDefinition<_sluice_v1_Block, _sluice_v1_Block__Output>
      BlockTaskRequest: MessageTypeDefinition<_sluice_v1_BlockTaskRequest, _sluice_v1_BlockTaskRequest__Output>
      BlockTaskResult: MessageTypeDefinition<_sluice_v1_BlockTaskResult, _sluice_v1_BlockTaskResult__Output>
      CancelTaskRequest: MessageTypeDefinition<_sluice_v1_CancelTaskRequest, _sluice_v1_CancelTaskRequest__Output>
      CancelTaskResponse: MessageTypeDefinition<_sluice_v1_CancelTaskResponse, _sluice_v1_CancelTaskResponse__Output>
      /**
       * Served by each executor: the driver sends one task per offset range.
       */
      Executor: SubtypeConstructor<typeof grpc.Client, _sluice_v1_ExecutorClient> & { service: _sluice_v1_ExecutorDefinition }
      OffsetRange: MessageTypeDefinition<_sluice_v1_OffsetRange, _sluice_v1_OffsetRange__Output>
      ReceiverCall: MessageTypeDefinition<_sluice_v1_ReceiverCall, _sluice_v1_ReceiverCall__Output>
      ReceiverEvent: MessageTypeDefinition<_sluice_v1_ReceiverEvent, _sluice_v1_ReceiverEvent__Output>
      ReceiverStart: MessageTypeDefinition<_sluice_v1_ReceiverStart, _sluice_v1_ReceiverStart__Output>
      TaskGroupAnswer: MessageTypeDefinition<_sluice_v1_TaskGroupAnswer, _sluice_v1_TaskGroupAnswer__Output>
      TaskGroupCall: MessageTypeDefinition<_sluice_v1_TaskGroupCall, _sluice_v1_TaskGroupCall__Output>
      TaskGroupItem: MessageTypeDefinition<_sluice_v1_TaskGroupItem, _sluice_v1_TaskGroupItem__Output>
      TaskRequest: MessageTypeDefinition<_sluice_v1_TaskRequest, _sluice_v1_TaskRequest__Output>
      TaskResult: MessageTypeDefinition<_sluice_v1_TaskResult, _sluice_v1_TaskResult__Output>
    }
  }
}

