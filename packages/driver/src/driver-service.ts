import * as grpc from '@grpc/grpc-js';
import {
  channelOptions,
  loadServices,
  SluiceError,
  toServiceError,
  type WireHeartbeatRequest,
  type WireHeartbeatResponse,
  type WireRegisterRequest,
  type WireRegisterResponse,
} from '@sluice/common';
import type { ExecutorRegistry } from './registry';

export interface DriverServiceOptions {
  job: string;
  epoch: string;
  heartbeatIntervalMs: number;
  host: string;
  port: number;
}

/** The gRPC Driver service: executors register, heartbeat and deregister. Returns the bound port. */
export async function startDriverService(
  registry: ExecutorRegistry,
  options: DriverServiceOptions
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server(channelOptions);
  server.addService(loadServices().Driver.service, {
    Register(call: grpc.ServerUnaryCall<WireRegisterRequest, WireRegisterResponse>, callback: grpc.sendUnaryData<WireRegisterResponse>) {
      const r = call.request;
      if (r.job !== options.job) {
        const refused = new SluiceError(
          'SLUICE_JOB_INVALID',
          `executor ${r.executor_id} runs job '${r.job}', this driver runs '${options.job}'`
        );
        return callback(toServiceError(refused));
      }
      if (!r.executor_id || !/^[^\s:]+:\d+$/.test(r.address) || r.slots < 1) {
        return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'executor_id, address (host:port) and slots >= 1 are required' });
      }
      registry.register(r.executor_id, r.address, r.slots);
      return callback(null, { epoch: options.epoch, heartbeat_interval_ms: options.heartbeatIntervalMs });
    },
    Heartbeat(
      call: grpc.ServerUnaryCall<WireHeartbeatRequest, WireHeartbeatResponse>,
      callback: grpc.sendUnaryData<WireHeartbeatResponse>
    ) {
      return callback(null, { known: registry.heartbeat(call.request.executor_id), epoch: options.epoch });
    },
    Deregister(call: grpc.ServerUnaryCall<{ executor_id: string }, object>, callback: grpc.sendUnaryData<object>) {
      registry.remove(call.request.executor_id, 'deregistered');
      return callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (e, bound) =>
      e ? reject(e) : resolve(bound)
    )
  );
  return { server, port };
}
