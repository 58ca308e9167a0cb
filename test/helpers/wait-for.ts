/**
 * Waits on a condition, never on a fixed sleep: polls `probe` until it returns a value other than
 * undefined/false, and fails with `label` and the last value seen when `timeoutMs` passes.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 50, label }: { timeoutMs?: number; intervalMs?: number; label: string }
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${label}; last seen: ${last instanceof Error ? last.message : JSON.stringify(last)}`
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
