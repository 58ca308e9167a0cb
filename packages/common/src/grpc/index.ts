export * from './proto';
export { toServiceError, fromServiceError, isPeerUnreachable } from './status';
