import { InvalidRequestError, toServiceError, type ExecutorHandlers, type SluiceError } from '@sluice/common';

/** An executor of a job in the direct approach (source.mode = direct) runs no receiver. */
export function refusedReceiverCalls(job: string): Pick<ExecutorHandlers, 'Receive' | 'RunBlockTask'> {
  const refusal = (): SluiceError =>
    new InvalidRequestError(`job '${job}' runs in source.mode = direct on this executor: no receiver or block task`, { job });
  return {
    // grpc-js turns an 'error' of a server stream into the call's status.
    Receive: (stream) => stream.emit('error', Object.assign(new Error(refusal().message), toServiceError(refusal()))),
    RunBlockTask: (_call, callback) => callback(toServiceError(refusal())),
  };
}
