export * from './proto';
export { toServiceError, fromServiceError, toWireFailure, fromWireFailure, serviceError, isPeerUnreachable } from './status';
export { grpcSecurity, tokenMatches, defaultMaxMessageBytes, type GrpcSecurity, type GrpcSettings } from './security';
