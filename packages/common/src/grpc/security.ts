import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { readSecretFile, readTlsFiles, type ConfigFile } from '../config/files';
import type { SluiceConfig } from '../config/schema';
import { ConfigError } from '../errors';

/**
 * The one place where the driver's and the executors' gRPC servers and clients get their
 * transport security: TLS or mutual TLS from PEM files, an optional shared bearer token, and the
 * message-size limit. Both processes are servers (Driver service, Executor service) and clients
 * of each other, so both build the same {@link GrpcSecurity} from the `grpc` configuration.
 */

export type GrpcSettings = SluiceConfig['grpc'];

export interface GrpcSecurity {
  readonly mode: GrpcSettings['tls'];
  /** Options for `new grpc.Server(...)`: message limits, keepalive and the token check. */
  readonly serverOptions: grpc.ServerOptions;
  /** Options for clients (`new Client(address, credentials, options)`): limits, name override, token. */
  readonly clientOptions: grpc.ClientOptions;
  serverCredentials(): grpc.ServerCredentials;
  channelCredentials(): grpc.ChannelCredentials;
  /**
   * Why the TLS server at `address` (host:port) refuses this process's certificate, or undefined
   * when it accepts it, cannot be reached, or TLS is off. Under TLS 1.3 a server checks the
   * client's certificate after the client has finished its side of the handshake, so gRPC reports a
   * refusal only as a dropped connection; this connects once with the same material to tell.
   */
  handshakeRefusal(address: string, timeoutMs: number): Promise<string | undefined>;
}

export const defaultMaxMessageBytes = 4 * 1024 * 1024;

/** Keepalive settings shared by servers and clients. */
const keepalive: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** The standard health service answers without a token: Kubernetes' gRPC probes cannot send one. */
const unauthenticatedPaths = ['/grpc.health.v1.Health/'];

/**
 * Reads the certificate, key, CA and token files named by `settings` (now: an unreadable file, or
 * TLS material that does not parse or match, is a start-up error naming its key and path) and
 * returns the credentials and options to use everywhere.
 */
export function grpcSecurity(settings: Partial<GrpcSettings> = {}): GrpcSecurity {
  const mode = settings.tls ?? 'off';
  const maxMessageBytes = settings.maxMessageBytes ?? defaultMaxMessageBytes;
  const limits: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    ...keepalive,
  };
  const token = settings.tokenFile === undefined ? undefined : readSecretFile('grpc.tokenFile', settings.tokenFile);

  let serverCredentials = (): grpc.ServerCredentials => grpc.ServerCredentials.createInsecure();
  let channelCredentials = (): grpc.ChannelCredentials => grpc.credentials.createInsecure();
  let handshakeRefusal: GrpcSecurity['handshakeRefusal'] = () => Promise.resolve(undefined);
  if (mode !== 'off') {
    const need = (key: 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile'): ConfigFile => {
      const path = settings[key];
      if (path === undefined) throw new ConfigError(`grpc.${key} is required when grpc.tls is '${mode}'`);
      return { key: `grpc.${key}`, path };
    };
    const files = readTlsFiles({
      cert: need('tlsCertFile'),
      key: need('tlsKeyFile'),
      ca: mode === 'mtls' || settings.tlsCaFile !== undefined ? need('tlsCaFile') : undefined,
    });
    const [cert, key, ca] = [files.cert as Buffer, files.key as Buffer, files.ca ?? null];
    const keyCertPairs = [{ private_key: key, cert_chain: cert }];
    // mtls: the server asks every client for a certificate chaining to `ca` and refuses the handshake without one.
    serverCredentials = () => grpc.ServerCredentials.createSsl(ca, keyCertPairs, mode === 'mtls');
    channelCredentials = () => (mode === 'mtls' ? grpc.credentials.createSsl(ca, key, cert) : grpc.credentials.createSsl(ca));
    // Whether the server trusts us is the question; whether we trust it, gRPC's own error already says.
    const probe: ConnectionOptions = { ...(mode === 'mtls' && { cert, key }), rejectUnauthorized: false, ALPNProtocols: ['h2'] };
    handshakeRefusal = (address: string, timeoutMs: number) =>
      probeHandshake(address, { ...probe, servername: settings.tlsServerName }, timeoutMs);
  }

  const serverOptions: grpc.ServerOptions = { ...limits };
  const clientOptions: grpc.ClientOptions = { ...limits };
  if (mode !== 'off' && settings.tlsServerName !== undefined) clientOptions['grpc.ssl_target_name_override'] = settings.tlsServerName;
  if (token !== undefined) {
    serverOptions.interceptors = [tokenCheck(token)];
    clientOptions.interceptors = [tokenSender(token)];
  }
  return { mode, serverOptions, clientOptions, serverCredentials, channelCredentials, handshakeRefusal };
}

/** One TLS connection to `address`: refused if the server drops it after the handshake without a word of HTTP/2. */
function probeHandshake(address: string, options: ConnectionOptions, timeoutMs: number): Promise<string | undefined> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  // No SNI for an IP address (RFC 6066); a name override is what the server's certificate carries.
  const servername = options.servername ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    let handshakeDone = false;
    const socket = tlsConnect({ ...options, host, port: Number(address.slice(colon + 1)), servername });
    const settle = (refusal: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(refusal);
    };
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    socket.once('secureConnect', () => (handshakeDone = true));
    // An HTTP/2 server speaks first (its SETTINGS frame) once it has accepted the connection.
    socket.once('data', () => settle(undefined));
    socket.once('error', (e: Error & { code?: string }) =>
      settle(handshakeDone || e.code?.startsWith('ERR_SSL') ? `the TLS handshake failed: ${e.message}` : undefined)
    );
    socket.once('close', () =>
      settle(
        handshakeDone ? 'the server closed the connection right after the TLS handshake: it does not accept this certificate' : undefined
      )
    );
  });
}

/** Compares in constant time (over SHA-256 digests, so unequal lengths take the same time too). */
export function tokenMatches(presented: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Server side: a call without `authorization: Bearer <token>` ends with UNAUTHENTICATED before its handler runs. */
function tokenCheck(token: string): grpc.ServerInterceptor {
  return (method, call) => {
    if (unauthenticatedPaths.some((prefix) => method.path.startsWith(prefix))) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const header = metadata.get('authorization')[0];
            const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
            if (presented !== undefined && tokenMatches(presented, token)) return mdNext(metadata);
            call.sendStatus({
              code: grpc.status.UNAUTHENTICATED,
              details: presented === undefined ? 'missing bearer token (grpc.tokenFile)' : 'wrong bearer token (grpc.tokenFile)',
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
  };
}

/** Client side: every call carries the token (metadata, so it also works on plaintext channels). */
function tokenSender(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}
