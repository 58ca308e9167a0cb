// Original file: proto/sluice/v1/driver.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeregisterRequest as _sluice_v1_DeregisterRequest, DeregisterRequest__Output as _sluice_v1_DeregisterRequest__Output } from '../../sluice/v1/DeregisterRequest';
import type { DeregisterResponse as _sluice_v1_DeregisterResponse, DeregisterResponse__Output as _sluice_v1_DeregisterResponse__Output } from '../../sluice/v1/DeregisterResponse';
import type { HeartbeatRequest as _sluice_v1_HeartbeatRequest, HeartbeatRequest__Output as _sluice_v1_HeartbeatRequest__Output } from '../../sluice/v1/HeartbeatRequest';
import type { HeartbeatResponse as _sluice_v1_HeartbeatResponse, HeartbeatResponse__Output as _sluice_v1_HeartbeatResponse__Output } from '../../sluice/v1/HeartbeatResponse';
import type { RegisterRequest as _sluice_v1_RegisterRequest, RegisterRequest__Output as _sluice_v1_RegisterRequest__Output } from '../../sluice/v1/RegisterRequest';
import type { RegisterResponse as _sluice_v1_RegisterResponse, RegisterResponse__Output as _sluice_v1_RegisterResponse__Output } from '../../sluice/v1/RegisterResponse';

/**
 * Served by the driver: executors join the job and prove they are alive.
 */
export interface DriverClient extends grpc.Client {
  /**
   * An executor leaves on graceful shutdown.
   */
  Deregister(argument: _sluice_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _sluice_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _sluice_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _sluice_v1_DeregisterRequest, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  /**
   * An executor leaves on graceful shutdown.
   */
  deregister(argument: _sluice_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _sluice_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _sluice_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _sluice_v1_DeregisterRequest, callback: grpc.requestCallback<_sluice_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Periodic liveness; `known = false` tells the executor to register again (e.g. a new driver).
   */
  Heartbeat(argument: _sluice_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _sluice_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _sluice_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _sluice_v1_HeartbeatRequest, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Periodic liveness; `known = false` tells the executor to register again (e.g. a new driver).
   */
  heartbeat(argument: _sluice_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _sluice_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _sluice_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _sluice_v1_HeartbeatRequest, callback: grpc.requestCallback<_sluice_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * An executor announces itself and the address of its Executor service.
   */
  Register(argument: _sluice_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _sluice_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _sluice_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _sluice_v1_RegisterRequest, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  /**
   * An executor announces itself and the address of its Executor service.
   */
  register(argument: _sluice_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _sluice_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _sluice_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _sluice_v1_RegisterRequest, callback: grpc.requestCallback<_sluice_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Served by the driver: executors join the job and prove they are alive.
 */
export interface DriverHandlers extends grpc.UntypedServiceImplementation {
  /**
   * An executor leaves on graceful shutdown.
   */
  Deregister: grpc.handleUnaryCall<_sluice_v1_DeregisterRequest__Output, _sluice_v1_DeregisterResponse>;
  
  /**
   * Periodic liveness; `known = false` tells the executor to register again (e.g. a new driver).
   */
  Heartbeat: grpc.handleUnaryCall<_sluice_v1_HeartbeatRequest__Output, _sluice_v1_HeartbeatResponse>;
  
  /**
   * An executor announces itself and the address of its Executor service.
   */
  Register: grpc.handleUnaryCall<_sluice_v1_RegisterRequest__Output, _sluice_v1_RegisterResponse>;
  
}

export interface DriverDefinition extends grpc.ServiceDefinition {
  Deregister: MethodDefinition<_sluice_v1_DeregisterRequest, _sluice_v1_DeregisterResponse, _sluice_v1_DeregisterRequest__Output, _sluice_v1_DeregisterResponse__Output>
  Heartbeat: MethodDefinition<_sluice_v1_HeartbeatRequest, _sluice_v1_HeartbeatResponse, _sluice_v1_HeartbeatRequest__Output, _sluice_v1_HeartbeatResponse__Output>
  Register: MethodDefinition<_sluice_v1_RegisterRequest, _sluice_v1_RegisterResponse, _sluice_v1_RegisterRequest__Output, _sluice_v1_RegisterResponse__Output>
}
