import * as grpc from '@grpc/grpc-js';
import { errorCodes, isSluiceError, SluiceError, type ErrorCode } from '../errors';
import type { WireFailure } from './proto';

/**
 * The one place where errors cross the wire. A SluiceError travels as a gRPC status whose code
 * says what kind of failure it is and whose metadata carries sluice's own code and retriable flag.
 */

const statusByCode: Partial<Record<ErrorCode, grpc.status>> = {
  SLUICE_CONFIG_INVALID: grpc.status.INVALID_ARGUMENT,
  SLUICE_INVALID_REQUEST: grpc.status.INVALID_ARGUMENT,
  SLUICE_JOB_INVALID: grpc.status.FAILED_PRECONDITION,
  SLUICE_FENCED: grpc.status.FAILED_PRECONDITION,
  SLUICE_TASK_OUTSIDE_PLAN: grpc.status.FAILED_PRECONDITION,
  SLUICE_CHECKPOINT_CONFLICT: grpc.status.ABORTED,
  SLUICE_PRODUCER_FENCED: grpc.status.ABORTED,
  SLUICE_DATA_LOSS: grpc.status.OUT_OF_RANGE,
  SLUICE_TOPIC_NOT_FOUND: grpc.status.NOT_FOUND,
  SLUICE_KAFKA_UNAVAILABLE: grpc.status.UNAVAILABLE,
  SLUICE_KAFKA_AUTH_FAILED: grpc.status.UNAUTHENTICATED,
  SLUICE_REDIS_UNAVAILABLE: grpc.status.UNAVAILABLE,
  SLUICE_SINK_UNAVAILABLE: grpc.status.UNAVAILABLE,
  SLUICE_REDIS_NOPERM: grpc.status.PERMISSION_DENIED,
  SLUICE_RANGE_NOT_VISIBLE: grpc.status.UNAVAILABLE,
  SLUICE_EXECUTOR_LOST: grpc.status.UNAVAILABLE,
  SLUICE_BLOCK_LOST: grpc.status.DATA_LOSS,
};

export function toServiceError(e: unknown): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  if (isSluiceError(e)) {
    metadata.set('sluice-code', e.code);
    metadata.set('sluice-retriable', String(e.retriable));
    return { code: statusByCode[e.code] ?? grpc.status.INTERNAL, details: e.message, metadata };
  }
  metadata.set('sluice-retriable', 'true');
  return { code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e), metadata };
}

/** Turns a failed call into a SluiceError; transport failures become `SLUICE_RPC` (retriable). */
export function fromServiceError(e: grpc.ServiceError, what: string): SluiceError {
  const code = e.metadata?.get('sluice-code')[0];
  const retriable = e.metadata?.get('sluice-retriable')[0];
  if (typeof code === 'string' && (errorCodes as readonly string[]).includes(code)) {
    const message = e.details.replace(/^\[[A-Z_]+\] /, '');
    return new SluiceError(code as ErrorCode, message, { retriable: retriable === 'true', cause: e });
  }
  return new SluiceError('SLUICE_RPC', `${what}: ${grpc.status[e.code] ?? e.code} ${e.details}`, {
    retriable: e.code !== grpc.status.INVALID_ARGUMENT && e.code !== grpc.status.UNIMPLEMENTED,
    cause: e,
    details: { grpcStatus: e.code },
  });
}

/** A failure inside a message (a task of a group, a refused group): any error becomes a sluice code. */
export function toWireFailure(e: unknown): WireFailure {
  const error = isSluiceError(e) ? e : new SluiceError('SLUICE_TASK_FAILED', (e as Error).message, { retriable: true, cause: e });
  return { error_code: error.code, error_message: error.message, retriable: error.retriable };
}

/** The SluiceError a {@link WireFailure} stands for (a code this side does not know is SLUICE_TASK_FAILED). */
export function fromWireFailure(failure: WireFailure): SluiceError {
  const known = (errorCodes as readonly string[]).includes(failure.error_code);
  // The message came with its code in front ("[SLUICE_...] ..."), which SluiceError adds again.
  const message = failure.error_message.replace(/^\[[A-Z_]+\] /, '');
  return new SluiceError(known ? (failure.error_code as ErrorCode) : 'SLUICE_TASK_FAILED', message, { retriable: failure.retriable });
}

/** A failure made on this side (a call given up, a closed connection), shaped like one grpc-js reports. */
export function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** True when the peer could not be reached or went away: its executor is to be treated as lost. */
export function isPeerUnreachable(e: SluiceError): boolean {
  const status = (e.details as { grpcStatus?: number } | undefined)?.grpcStatus;
  return e.code === 'SLUICE_RPC' && status === grpc.status.UNAVAILABLE;
}
