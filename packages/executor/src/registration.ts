import * as grpc from '@grpc/grpc-js';
import {
  fromServiceError,
  grpcSecurity,
  isSluiceError,
  loadServices,
  type GrpcSecurity,
  type Logger,
  type WireHeartbeatResponse,
  type WireRegisterResponse,
} from '@sluice/common';

export interface RegistrationOptions {
  /** Every driver of the job (a leader and its standbys): registration goes to whichever accepts it. */
  driverAddresses: string[];
  executorId: string;
  address: string;
  slots: number;
  job: string;
  heartbeatIntervalMs: number;
  runningTasks: () => number;
  /** Credentials and options of the client that calls the driver (default: plaintext). */
  security?: GrpcSecurity;
}

/** How grpc-js reports a failed TLS handshake (OpenSSL's and Node's wording). */
const tlsFailure = /certificate|SSL|TLS|handshake|self[- ]signed|altnames|unable to verify/i;

/** grpc-js puts the time into some messages (`Failed to connect (2026-...Z)`): not part of what went wrong. */
const withoutTimes = (message: string): string => message.replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '');

type Unary<Req, Res> = (request: Req, options: grpc.CallOptions, callback: (e: grpc.ServiceError | null, r?: Res) => void) => void;
interface DriverClient extends grpc.Client {
  Register: Unary<object, WireRegisterResponse>;
  Heartbeat: Unary<object, WireHeartbeatResponse>;
  Deregister: Unary<object, object>;
}

/**
 * Keeps the executor registered with the driver: registers, heartbeats, and registers again
 * whenever the driver does not know it (a restarted or new driver), so executors follow the
 * driver without a restart of their own. With several driver addresses, a failed call moves on to
 * the next one: a standby binds no gRPC port until it leads, so the leader is the one that answers.
 */
export class DriverRegistration {
  private readonly clients: DriverClient[];
  private readonly security: GrpcSecurity;
  private current = 0;
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private unregisteredSince = Date.now();
  private lastReported: string | undefined;

  constructor(
    private readonly options: RegistrationOptions,
    private readonly logger: Logger
  ) {
    const security = (this.security = options.security ?? grpcSecurity());
    const Driver = loadServices().Driver;
    this.clients = options.driverAddresses.map(
      (address) => new Driver(address, security.channelCredentials(), security.clientOptions) as unknown as DriverClient
    );
  }

  start(): void {
    const beat = (): void => {
      const driver = this.driverAddress;
      this.beat()
        .catch((e: Error) => {
          if (this.registered) this.unregisteredSince = Date.now();
          else this.current = (this.current + 1) % this.clients.length;
          this.registered = false;
          // A driver that is still starting is normal; say each distinct failure once, and only
          // once it has lasted a few heartbeats (e.g. a driver refusing this job).
          const persistent = Date.now() - this.unregisteredSince > 3 * this.options.heartbeatIntervalMs;
          const failure = withoutTimes(e.message);
          if (!persistent || failure === this.lastReported) return undefined;
          this.lastReported = failure;
          return this.report(e, driver);
        })
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(beat, this.options.heartbeatIntervalMs);
        });
    };
    this.timer = setTimeout(beat, 0);
  }

  /** Says why registering fails: a TLS problem as an error naming what to check, anything else as a warning. */
  private async report(e: Error, driver: string): Promise<void> {
    let reason: string | undefined = tlsFailure.test(e.message) ? e.message : undefined;
    if (reason === undefined && isSluiceError(e) && e.details.grpcStatus === grpc.status.UNAVAILABLE) {
      // A driver that refuses this executor's certificate only drops the connection, as far as gRPC can tell.
      const refusal = await this.security.handshakeRefusal(driver, Math.max(1000, this.options.heartbeatIntervalMs)).catch(() => undefined);
      if (refusal !== undefined) reason = `${e.message} (${refusal})`;
    }
    if (reason === undefined) {
      this.logger.warn({ err: e.message }, 'not registered with the driver; retrying');
      return;
    }
    // Certificates do not fix themselves: say what to check, loudly, once per distinct error.
    this.logger.error(
      { err: reason },
      'TLS handshake with the driver failed; not registered (check grpc.tls, grpc.tlsCaFile, grpc.tlsCertFile, grpc.tlsServerName on both sides)'
    );
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.registered) {
      await this.call<object>('Deregister', { executor_id: this.options.executorId }).catch(() => undefined);
    }
    for (const client of this.clients) client.close();
  }

  private get driverAddress(): string {
    return this.options.driverAddresses[this.current] as string;
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
    this.logger.info({ driver: this.driverAddress, epoch: response.epoch }, 'registered with the driver');
  }

  private call<Res>(method: 'Register' | 'Heartbeat' | 'Deregister', request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + Math.max(1000, this.options.heartbeatIntervalMs));
      const client = this.clients[this.current] as DriverClient;
      const address = this.driverAddress;
      (client[method] as Unary<object, Res>)(request, { deadline }, (e, response) =>
        e ? reject(fromServiceError(e, `${method} at driver ${address}`)) : resolve(response as Res)
      );
    });
  }
}
