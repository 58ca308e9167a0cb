import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits `ms`, or less when `signal` aborts: the pause of a retry loop or a poll that must end
 * promptly when the process is asked to stop.
 * @returns true when the time passed; false when `signal` aborted (before or during the wait).
 */
export async function abortableWait(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch (e) {
    if (signal?.aborted) return false;
    throw e;
  }
}
