import { stopCluster } from './cluster';

export default async function faultTeardown(): Promise<void> {
  await stopCluster();
}
