import * as grpc from '@grpc/grpc-js';
import {
  channelOptions,
  fromServiceError,
  loadServices,
  type Logger,
  type WireHeartbeatResponse,
  type WireRegisterResponse,
} from '@sluice/common';

export interface RegistrationOptions {
  driverAddress: string;
  executorId: string;
  address: string;
  slots: number;
  job: string;
  heartbeatIntervalMs: number;
  runningTasks: () => number;
}

type Unary<Req, Res> = (request: Req, options: grpc.CallOptions, callback: (e: grpc.ServiceError | null, r?: Res) => void) => void;
interface DriverClient extends grpc.Client {
  Register: Unary<object, WireRegisterResponse>;
  Heartbeat: Unary<object, WireHeartbeatResponse>;
  Deregister: Unary<object, object>;
}

/**
 * Keeps the executor registered with the driver: registers, heartbeats, and registers again
 * whenever the driver does not know it (a restarted or new driver), so executors follow the
 * driver without a restart of their own.
 */
export class DriverRegistration {
  private readonly client: DriverClient;
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private unregisteredSince = Date.now();
  private lastReported: string | undefined;

  constructor(
    private readonly options: RegistrationOptions,
    private readonly logger: Logger
  ) {
    this.client = new (loadServices().Driver)(
      options.driverAddress,
      grpc.credentials.createInsecure(),
      channelOptions
    ) as unknown as DriverClient;
  }

  start(): void {
    const beat = (): void => {
      this.beat()
        .catch((e: Error) => {
          if (this.registered) this.unregisteredSince = Date.now();
          this.registered = false;
          // A driver that is still starting is normal; say each distinct failure once, and only
          // once it has lasted a few heartbeats (e.g. a driver refusing this job).
          const persistent = Date.now() - this.unregisteredSince > 3 * this.options.heartbeatIntervalMs;
          if (persistent && e.message !== this.lastReported) {
            this.logger.warn({ err: e.message }, 'not registered with the driver; retrying');
            this.lastReported = e.message;
          }
        })
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(beat, this.options.heartbeatIntervalMs);
        });
    };
    this.timer = setTimeout(beat, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.registered) {
      await this.call<object>('Deregister', { executor_id: this.options.executorId }).catch(() => undefined);
    }
    this.client.close();
  }

  private async beat(): Promise<void> {
    const o = this.options;
    if (this.registered) {
      const response = await this.call<WireHeartbeatResponse>('Heartbeat', { executor_id: o.executorId, running_tasks: o.runningTasks() });
      if (response.known) return;
      this.registered = false;
    }
    const response = await this.call<WireRegisterResponse>('Register', {
      executor_id: o.executorId,
      address: o.address,
      slots: o.slots,
      job: o.job,
    });
    this.registered = true;
    this.lastReported = undefined;
    this.logger.info({ driver: o.driverAddress, epoch: response.epoch }, 'registered with the driver');
  }

  private call<Res>(method: 'Register' | 'Heartbeat' | 'Deregister', request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + Math.max(1000, this.options.heartbeatIntervalMs));
      (this.client[method] as Unary<object, Res>)(request, { deadline }, (e, response) =>
        e ? reject(fromServiceError(e, `${method} at driver ${this.options.driverAddress}`)) : resolve(response as Res)
      );
    });
  }
}
