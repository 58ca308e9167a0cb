import type { SluiceProcess } from './processes';
import { waitFor } from './wait-for';

/** The driver's HTTP base URL, from the line it prints once it listens. */
export async function driverUrl(driver: SluiceProcess, timeoutMs = 30_000): Promise<string> {
  const [, url] = await driver.waitForOutput(/HTTP server \(UI, API, metrics\) at (http:\/\/\S+)/, timeoutMs);
  return url as string;
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as T };
}

export interface ExecutorView {
  id: string;
  state: 'alive' | 'lost';
  runningTasks: number;
}

/** Waits until the driver lists exactly these executors as alive. */
export async function waitForAliveExecutors(url: string, ids: string[], timeoutMs = 30_000): Promise<void> {
  const want = [...ids].sort().join(',');
  await waitFor(
    async () => {
      const { body } = await getJson<ExecutorView[]>(`${url}/api/v1/executors`);
      const alive = body
        .filter((e) => e.state === 'alive')
        .map((e) => e.id)
        .sort()
        .join(',');
      return alive === want ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, label: `alive executors = [${want}]` }
  );
}

/** The JSON log lines of a process (LOG_LEVEL set, stderr not a terminal) whose `msg` is `msg`. */
export function logLines(proc: SluiceProcess, msg: string): Array<Record<string, unknown>> {
  return proc.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((entry) => entry.msg === msg);
}
