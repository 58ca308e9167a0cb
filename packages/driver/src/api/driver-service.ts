import * as grpc from '@grpc/grpc-js';
import {
  grpcSecurity,
  loadServices,
  SluiceError,
  toServiceError,
  type GrpcSecurity,
  type WireHeartbeatRequest,
  type WireHeartbeatResponse,
  type WireRegisterRequest,
  type WireRegisterResponse,
} from '@sluice/common';
import type { ExecutorRegistry } from '../dispatch/registry';

export interface DriverServiceOptions {
  job: string;
  epoch: string;
  heartbeatIntervalMs: number;
  host: string;
  port: number;
  /** Credentials, limits and token check (default: plaintext, 4 MiB, no token). */
  security?: GrpcSecurity;
}

/** The most task slots an executor may announce: far above any real one, low enough to catch garbage. */
export const MAX_EXECUTOR_SLOTS = 1024;
const executorIdPattern = /^[\x21-\x7e]{1,128}$/;

/** Why a Register request is refused (null: it is well formed). Input from the network: checked before use. */
export function registerProblem(r: WireRegisterRequest): string | null {
  if (!executorIdPattern.test(r.executor_id ?? ''))
    return `executor_id '${r.executor_id}' must be 1 to 128 printable characters without spaces`;
  const address = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(r.address ?? '');
  const port = address ? Number(address[2]) : 0;
  if (!address || port < 1 || port > 65535) return `address '${r.address}' must be host:port with a port in 1..65535`;
  if (!Number.isInteger(r.slots) || r.slots < 1 || r.slots > MAX_EXECUTOR_SLOTS)
    return `slots ${r.slots} must be in 1..${MAX_EXECUTOR_SLOTS}`;
  return null;
}

/** The gRPC Driver service: executors register, heartbeat and deregister. Returns the bound port. */
export async function startDriverService(
  registry: ExecutorRegistry,
  options: DriverServiceOptions
): Promise<{ server: grpc.Server; port: number }> {
  const security = options.security ?? grpcSecurity();
  const server = new grpc.Server(security.serverOptions);
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
      const problem = registerProblem(r);
      if (problem !== null) return callback({ code: grpc.status.INVALID_ARGUMENT, details: `Register refused: ${problem}` });
      registry.register(r.executor_id, r.address, r.slots);
      return callback(null, { epoch: options.epoch, heartbeat_interval_ms: options.heartbeatIntervalMs });
    },
    Heartbeat(
      call: grpc.ServerUnaryCall<WireHeartbeatRequest, WireHeartbeatResponse>,
      callback: grpc.sendUnaryData<WireHeartbeatResponse>
    ) {
      const r = call.request;
      if (!executorIdPattern.test(r.executor_id ?? '')) {
        return callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `Heartbeat refused: executor_id '${r.executor_id}' is not a valid id`,
        });
      }
      if (!Number.isInteger(r.running_tasks) || r.running_tasks < 0 || r.running_tasks > MAX_EXECUTOR_SLOTS) {
        return callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `Heartbeat refused: running_tasks ${r.running_tasks} out of range`,
        });
      }
      return callback(null, { known: registry.heartbeat(r.executor_id), epoch: options.epoch });
    },
    Deregister(call: grpc.ServerUnaryCall<{ executor_id: string }, object>, callback: grpc.sendUnaryData<object>) {
      registry.remove(call.request.executor_id, 'deregistered');
      return callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, security.serverCredentials(), (e, bound) => (e ? reject(e) : resolve(bound)))
  );
  return { server, port };
}
