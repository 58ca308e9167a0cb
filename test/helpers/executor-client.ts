import * as grpc from '@grpc/grpc-js';
import { channelOptions, loadServices, type WireTaskRequest, type WireTaskResult } from '@sluice/common';
import { waitFor } from './wait-for';

/** Talks to an executor directly, as a driver (or a stranger on the network) would. */
export interface ExecutorTestClient {
  /** Resolves with the result, or rejects with the gRPC ServiceError. */
  runTask(request: WireTaskRequest, timeoutMs?: number): Promise<WireTaskResult>;
  close(): void;
}

/** A plaintext client of the Executor service at `address`, once that serves. */
export async function connectExecutor(address: string): Promise<ExecutorTestClient> {
  const client = new (loadServices().Executor)(address, grpc.credentials.createInsecure(), channelOptions);
  await waitFor(() => new Promise<boolean>((resolve) => client.waitForReady(Date.now() + 1000, (e) => resolve(!e))), {
    label: `executor serving at ${address}`,
  });
  return {
    runTask: (request, timeoutMs = 20_000) =>
      new Promise((resolve, reject) =>
        client.RunTask(request, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as WireTaskResult)))
      ),
    close: () => client.close(),
  };
}
