import * as grpc from '@grpc/grpc-js';
import {
  fromServiceError,
  grpcSecurity,
  isSluiceError,
  loadServices,
  type DriverClient,
  type GrpcSecurity,
  type Logger,
  type WireHeartbeatResponse,
  type WireRegisterResponse,
} from '@sluice/common';

export interface RegistrationOptions {
  /** Every driver of the job (a leader and its standbys): registration goes to whichever accepts it. */
  driverAddresses: string[];
  /**
   * The Driver service address the leading driver published with its lease (undefined while none
   * did): tried before `driverAddresses`, so a new leader is found as soon as it took over.
   */
  findLeader?: () => Promise<string | undefined>;
  executorId: string;
  address: string;
  slots: number;
  job: string;
  heartbeatIntervalMs: number;
  runningTasks: () => number;
  /** Credentials and options of the client that calls the driver (default: plaintext). */
  security?: GrpcSecurity;
  /** Called after each registration with the epoch of the driver registered with (receiver mode stops receivers of older drivers). */
  onRegistered?(epoch: string): void;
}

/** While not registered, the next attempt comes this soon (or after a heartbeat interval, if shorter). */
const RETRY_MS = 200;

/**
 * grpc-js waits before reconnecting to an address that refused it, doubling up to two minutes, and
 * fails calls at once meanwhile: a standby that starts listening when it takes over would be found
 * that late. So a channel whose call failed is closed and the next attempt opens a new one, with a
 * connection of its own (grpc-js otherwise shares them, and their waits, between channels).
 */
const ownConnections: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

/** How grpc-js reports a failed TLS handshake (OpenSSL's and Node's wording). */
const tlsFailure = /certificate|SSL|TLS|handshake|self[- ]signed|altnames|unable to verify/i;

/** grpc-js puts the time into some messages (`Failed to connect (2026-...Z)`): not part of what went wrong. */
const withoutTimes = (message: string): string => message.replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '');

/** Calls one method of the Driver service with the call's options and callback. */
type DriverCall<Res> = (client: DriverClient, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => void;

/**
 * Keeps the executor registered with the driver that leads: registers, heartbeats, and registers
 * again whenever that driver fails to answer or does not know it (a restarted or new driver), so
 * executors follow the driver without a restart of their own. Where to register: the address the
 * leader published with its lease, else the configured addresses in turn (a standby binds no gRPC
 * port until it leads, so only the leader accepts); the next attempt comes within {@link RETRY_MS}.
 */
export class DriverRegistration {
  /** The channel to the driver registered with, or being tried; closed when a call on it fails. */
  private channel: { address: string; client: DriverClient } | undefined;
  private readonly security: GrpcSecurity;
  /** The driver registered with, or the one last tried. */
  private driverAddress: string;
  private nextConfigured = 0;
  /** The last attempt went to the published address: if it failed, the next one tries a configured address. */
  private triedPublished = false;
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private unregisteredSince = Date.now();
  /** Failures already reported since the last registration (several addresses may each fail their own way). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly options: RegistrationOptions,
    private readonly logger: Logger
  ) {
    this.security = options.security ?? grpcSecurity();
    this.driverAddress = options.driverAddresses[0] as string;
  }

  start(): void {
    const beat = (): void => {
      this.beat()
        .catch((e: Error) => {
          if (this.registered) this.unregisteredSince = Date.now();
          this.registered = false;
          this.closeChannel();
          // A driver that is still starting (or a standby taking over) is normal; say each distinct
          // failure once, and only once it has lasted a few heartbeats (e.g. a driver refusing this job).
          const persistent = Date.now() - this.unregisteredSince > 3 * this.options.heartbeatIntervalMs;
          const failure = withoutTimes(e.message);
          if (!persistent || this.reported.has(failure)) return undefined;
          this.reported.add(failure);
          return this.report(e, this.driverAddress);
        })
        .finally(() => {
          const interval = this.options.heartbeatIntervalMs;
          if (this.timer !== undefined) this.timer = setTimeout(beat, this.registered ? interval : Math.min(interval, RETRY_MS));
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
      const request = { executor_id: this.options.executorId };
      await this.call('Deregister', (client, options, done) => client.Deregister(request, options, done)).catch(() => undefined);
    }
    this.closeChannel();
  }

  private async beat(): Promise<void> {
    const o = this.options;
    if (this.registered) {
      const request = { executor_id: o.executorId, running_tasks: o.runningTasks() };
      const response = await this.call<WireHeartbeatResponse>('Heartbeat', (client, options, done) =>
        client.Heartbeat(request, options, done)
      );
      if (response.known) return;
      this.registered = false;
    }
    this.driverAddress = await this.nextTarget();
    const request = { executor_id: o.executorId, address: o.address, slots: o.slots, job: o.job };
    const response = await this.call<WireRegisterResponse>('Register', (client, options, done) => client.Register(request, options, done));
    this.registered = true;
    this.triedPublished = false;
    this.reported.clear();
    this.logger.info({ driver: this.driverAddress, epoch: response.epoch }, 'registered with the driver');
    o.onRegistered?.(String(response.epoch));
  }

  /** The address the leader published, unless it was just tried in vain: then the next configured one. */
  private async nextTarget(): Promise<string> {
    if (!this.triedPublished) {
      // Redis not answering is no reason not to try the configured addresses.
      const published = await this.options.findLeader?.().catch(() => undefined);
      if (published !== undefined) {
        this.triedPublished = true;
        return published;
      }
    }
    this.triedPublished = false;
    const configured = this.options.driverAddresses;
    const address = configured[this.nextConfigured % configured.length] as string;
    this.nextConfigured++;
    return address;
  }

  private client(address: string): DriverClient {
    if (this.channel?.address !== address) {
      this.closeChannel();
      const Driver = loadServices().Driver;
      const options = { ...this.security.clientOptions, ...ownConnections };
      this.channel = { address, client: new Driver(address, this.security.channelCredentials(), options) };
    }
    return this.channel.client;
  }

  private closeChannel(): void {
    this.channel?.client.close();
    this.channel = undefined;
  }

  private call<Res>(method: 'Register' | 'Heartbeat' | 'Deregister', invoke: DriverCall<Res>): Promise<Res> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + Math.max(1000, this.options.heartbeatIntervalMs));
      const address = this.driverAddress;
      const client = this.client(address);
      invoke(client, { deadline }, (e, response) =>
        e ? reject(fromServiceError(e, `${method} at driver ${address}`)) : resolve(response as Res)
      );
    });
  }
}
