import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { DeregisterRequest as _sluice_v1_DeregisterRequest, DeregisterRequest__Output as _sluice_v1_DeregisterRequest__Output } from './sluice/v1/DeregisterRequest';
import type { DeregisterResponse as _sluice_v1_DeregisterResponse, DeregisterResponse__Output as _sluice_v1_DeregisterResponse__Output } from './sluice/v1/DeregisterResponse';
import type { DriverClient as _sluice_v1_DriverClient, DriverDefinition as _sluice_v1_DriverDefinition } from './sluice/v1/Driver';
import type { HeartbeatRequest as _sluice_v1_HeartbeatRequest, HeartbeatRequest__Output as _sluice_v1_HeartbeatRequest__Output } from './sluice/v1/HeartbeatRequest';
import type { HeartbeatResponse as _sluice_v1_HeartbeatResponse, HeartbeatResponse__Output as _sluice_v1_HeartbeatResponse__Output } from './sluice/v1/HeartbeatResponse';
import type { RegisterRequest as _sluice_v1_RegisterRequest, RegisterRequest__Output as _sluice_v1_RegisterRequest__Output } from './sluice/v1/RegisterRequest';
import type { RegisterResponse as _sluice_v1_RegisterResponse, RegisterResponse__Output as _sluice_v1_RegisterResponse__Output } from './sluice/v1/RegisterResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  sluice: {
    v1: {
      DeregisterRequest: MessageTypeDefinition<_sluice_v1_DeregisterRequest, _sluice_v1_DeregisterRequest__Output>
      DeregisterResponse: MessageTypeDefinition<_sluice_v1_DeregisterResponse, _sluice_v1_DeregisterResponse__Output>
      /**
       * Served by the driver: executors join the job and prove they are alive.
       */
      Driver: SubtypeConstructor<typeof grpc.Client, _sluice_v1_DriverClient> & { service: _sluice_v1_DriverDefinition }
      HeartbeatRequest: MessageTypeDefinition<_sluice_v1_HeartbeatRequest, _sluice_v1_HeartbeatRequest__Output>
      HeartbeatResponse: MessageTypeDefinition<_sluice_v1_HeartbeatResponse, _sluice_v1_HeartbeatResponse__Output>
      RegisterRequest: MessageTypeDefinition<_sluice_v1_RegisterRequest, _sluice_v1_RegisterRequest__Output>
      RegisterResponse: MessageTypeDefinition<_sluice_v1_RegisterResponse, _sluice_v1_RegisterResponse__Output>
    }
  }
}

