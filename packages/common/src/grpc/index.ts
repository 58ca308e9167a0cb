export * from './proto';
export { toServiceError, fromServiceError, isPeerUnreachable } from './status';
export { grpcSecurity, tokenMatches, defaultMaxMessageBytes, type GrpcSecurity, type GrpcSettings } from './security';
