import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProcessRegistry } from '@sluice/common';
import { Counter, Gauge, Histogram } from 'prom-client';

/**
 * An executor's Prometheus metrics: its own registry, prom-client's default process metrics and
 * `sluice_build_info`. Its own metrics are named `sluice_executor_*`, so that none means one thing
 * here and another on the driver.
 */
export class ExecutorMetrics {
  readonly registry = createProcessRegistry('executor');
  readonly taskDuration: Histogram<'status'>;
  readonly tasks: Counter<'outcome'>;
  readonly records: Counter;
  readonly bytes: Counter;
  readonly readAheadRecords: Counter;
  readonly runningTasks: Gauge;

  constructor(runningTasks: () => number) {
    const registers = [this.registry];
    this.taskDuration = new Histogram({
      name: 'sluice_executor_task_duration_seconds',
      help: 'Duration of task attempts on this executor, by final status',
      labelNames: ['status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.tasks = new Counter({
      name: 'sluice_executor_tasks_total',
      help: 'Task attempts by outcome (committed, already_committed, staged, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.records = new Counter({
      name: 'sluice_executor_records_committed_total',
      help: 'Records this executor committed (output and offset advance), each once, chunk by chunk',
      registers,
    });
    this.bytes = new Counter({
      name: 'sluice_executor_bytes_committed_total',
      help: 'Key and value bytes of the records this executor committed',
      registers,
    });
    this.readAheadRecords = new Counter({
      name: 'sluice_executor_read_ahead_records_total',
      help: 'Records tasks took from the read-ahead (executor.readAhead) instead of fetching them',
      registers,
    });
    this.runningTasks = new Gauge({
      name: 'sluice_executor_running_tasks',
      help: 'Tasks running on this executor now',
      registers,
      collect() {
        this.set(runningTasks());
      },
    });
  }
}

function health(path: string, notReady: () => string | undefined): [number, Record<string, string>] {
  if (path === '/healthz') return [200, { status: 'ok' }];
  if (path !== '/readyz') return [404, { error: `no such path: ${path}` }];
  const reason = notReady();
  return reason === undefined ? [200, { status: 'ready' }] : [503, { status: 'not ready', reason }];
}

/**
 * `/metrics`, `/healthz` and `/readyz` of an executor. `notReady` says why the executor is not ready
 * (undefined once it serves tasks). Returns the bound URL.
 */
export async function startMetricsServer(
  metrics: ExecutorMetrics,
  host: string,
  port: number,
  notReady: () => string | undefined
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(body);
        },
        (e: Error) => {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: e.message }));
        }
      );
      return;
    }
    const [status, body] = health(path, notReady);
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${shownHost}:${address.port}` };
}
