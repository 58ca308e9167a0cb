import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import {
  asRedisOutage,
  deadLetterQueueSize,
  isDependencyOutage,
  readLeader,
  type BatchSummary,
  type CheckpointStore,
  type Logger,
} from '@sluice/common';
import { lagReport, type LagSample } from '../planning/lag';
import type { DriverMetrics } from './metrics';
import type { OffsetsView } from '../planning/offsets-view';
import type { ExecutorInfo } from '../dispatch/registry';
import type { ReceiverInfo } from '../receiver/receiver-tracker';
import { uiHandler } from './ui';

/**
 * `waiting-for-redis`: started while Redis cannot be reached; `standby`: waiting for the leader lease;
 * `*-unavailable`: paused until that dependency answers again.
 */
export type DriverState =
  | 'waiting-for-redis'
  | 'standby'
  | 'waiting-for-executors'
  | 'running'
  | 'redis-unavailable'
  | 'kafka-unavailable'
  | 'sink-unavailable'
  | 'stopping'
  | 'stopped';

/** A batch planned and dispatched, not yet committed. */
export interface ActiveBatch {
  id: number;
  time: number;
  schedulingDelayMs: number;
  tasksTotal: number;
  tasksDone: number;
  ranges: Array<{ topic: string; partition: number; from: string; until: string }>;
}

/** What the HTTP API reads from the driver. */
export interface DriverView {
  readonly job: string;
  /** Id of this driver. */
  readonly driverId: string;
  /** This driver holds the leader lease now: only the leader reports the job's gauges. */
  readonly leading: boolean;
  readonly epoch: string;
  readonly state: DriverState;
  readonly startedAt: number;
  readonly batchIntervalMs: number;
  readonly topics: string[];
  readonly historySize: number;
  activeBatches(): ActiveBatch[];
  executors(): ExecutorInfo[];
  readonly store: CheckpointStore;
  readonly offsets: OffsetsView;
  readonly metrics: DriverMetrics;
  /** The lag at each of the newest `limit` planned batches, newest first. */
  lagHistory(limit: number): LagSample[];
  /** Receiver mode's receivers ([] in the direct approach; see docs/receiver-mode.md). */
  receivers?(): ReceiverInfo[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

const PORT_RETRIES = 16;

/** Names the driver that forwarded a request to the leader: a request carrying it is never forwarded again. */
const FORWARDED_BY = 'x-sluice-forwarded-by';
/** How long a forwarded request may wait for the leader (then this driver answers it). */
const FORWARD_TIMEOUT_MS = 5000;
/** Headers of one connection, not of the request or answer (RFC 9110, 7.6.1). */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

/** The states a driver leads in, and is ready: it plans batches, or waits for executors to. */
const leaderStates: ReadonlySet<DriverState> = new Set(['running', 'waiting-for-executors']);

/**
 * The driver's HTTP server: the JSON API under `/api/v1`, `/metrics` (Prometheus), `/healthz`,
 * `/readyz`, `/leaderz`, and everything else to the web UI. Read-only: every route is a GET (or
 * HEAD). A standby forwards the UI and the API to the leader (found through the address the
 * leader published with its lease), so a Service or Ingress may route to any driver; health and
 * metrics are always its own.
 */
export class DriverHttpServer {
  private readonly server: Server;
  private historyCache: { at: number; batches: BatchSummary[] } | undefined;
  url = '';

  constructor(
    private readonly view: DriverView,
    private readonly logger: Logger
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Binds `host:port`; a port in use is retried on the next ones, as Spark's UI does (port 0: any). */
  async listen(host: string, port: number): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const tryPort = port === 0 ? 0 : port + attempt;
      try {
        this.server.listen(tryPort, host);
        await Promise.race([once(this.server, 'listening'), once(this.server, 'error').then(([e]) => Promise.reject(e as Error))]);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' || port === 0 || attempt >= PORT_RETRIES) throw e;
        this.logger.warn({ port: tryPort }, 'HTTP port in use; trying the next one');
      }
    }
    const address = this.server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${shownHost}:${address.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname;
      if (path === '/healthz') return json(res, 200, { status: 'ok' });
      if (path === '/readyz') return await this.ready(res, 'any');
      if (path === '/leaderz') return await this.ready(res, 'leader');
      if (path === '/metrics') return await this.metrics(res);
      if (await this.forwardToLeader(req, res)) return;
      if (path === '/api/v1' || path.startsWith('/api/v1/')) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} not allowed: the API is read-only`);
        return json(res, 200, await this.api(path.slice('/api/v1'.length), url.searchParams));
      }
      if (uiHandler(req, res)) return;
      throw new HttpError(404, `no such path: ${path}`);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : isDependencyOutage(asRedisOutage(e)) ? 503 : 500;
      if (status === 500) this.logger.warn({ err: (e as Error).message, path: req.url }, 'HTTP request failed');
      if (!res.headersSent) json(res, status, { error: (e as Error).message });
      else res.end();
    }
  }

  private async api(route: string, query: URLSearchParams): Promise<unknown> {
    const v = this.view;
    switch (route) {
      case '/status': {
        const [totals, latest, holder] = await Promise.all([v.store.totals(), v.store.history(1), readLeader(v.store.client, v.job)]);
        // The lease's holder in Redis, but not this driver once its own lease lapsed (renewals failing for a TTL).
        const leader = holder !== null && (holder.id !== v.driverId || v.leading) ? holder : null;
        return {
          job: v.job,
          leader: leader?.id ?? null,
          // Where it is reached: null until it published that (just after taking the lease).
          leaderInfo: leader?.info ?? null,
          // The driver answering: the leader, unless it could not be reached from this one.
          driverId: v.driverId,
          epoch: v.leading ? v.epoch : (leader?.info?.epoch ?? v.epoch),
          state: v.state,
          startedAt: v.startedAt,
          uptimeMs: Date.now() - v.startedAt,
          batchIntervalMs: v.batchIntervalMs,
          topics: v.topics,
          totals,
          lastBatch: latest[0] ?? null,
        };
      }
      case '/batches': {
        const limit = intParam(query, 'limit', 50);
        const before = query.has('before') ? intParam(query, 'before', 0) : undefined;
        const history = before === undefined && limit <= 200 ? await v.store.history(limit) : await this.history();
        const completed = (before === undefined ? history : history.filter((b) => b.id < before)).slice(0, limit);
        return { active: v.activeBatches(), completed };
      }
      case '/executors':
        return v.executors();
      case '/receivers':
        return v.receivers?.() ?? [];
      case '/offsets':
        return (await v.offsets.snapshot()).map((r) => ({
          topic: r.topic,
          partition: r.partition,
          committed: String(r.committed),
          latest: String(r.latest),
          earliest: String(r.earliest),
        }));
      case '/lag': {
        const { rows, oldest } = await v.offsets.withOldestRecords();
        return lagReport(rows, oldest);
      }
      case '/lag/history':
        return v.lagHistory(intParam(query, 'limit', 200));
      default: {
        const match = /^\/batches\/(\d+)$/.exec(route);
        if (match) {
          const id = Number(match[1]);
          // A batch committed after the cached read is found by a fresh one.
          const found = (await this.history()).find((b) => b.id === id) ?? (await this.history(true)).find((b) => b.id === id);
          if (!found) throw new HttpError(404, `batch ${id} is unknown or no longer in the history`);
          return found;
        }
        throw new HttpError(404, `no such API route: /api/v1${route}`);
      }
    }
  }

  /** The whole retained history, newest first, read at most once a second. */
  private async history(fresh = false): Promise<BatchSummary[]> {
    if (!fresh && this.historyCache && Date.now() - this.historyCache.at < 1000) return this.historyCache.batches;
    const batches = await this.view.store.history(this.view.historySize + 100);
    this.historyCache = { at: Date.now(), batches };
    return batches;
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const m = this.view.metrics;
    m.leader.set(this.view.leading ? 1 : 0);
    m.executorsLive.set(this.view.executors().filter((e) => e.state === 'alive').length);
    if (this.view.leading) await this.refreshJobGauges(m);
    else m.setLag(undefined);
    const body = await m.registry.metrics();
    res.writeHead(200, { 'Content-Type': m.registry.contentType, 'Cache-Control': 'no-store' });
    res.end(body);
  }

  /** Lag and dead-letter queue size, as of now: a scrape still answers when Kafka or Redis does not (the gauges keep their last values). */
  private async refreshJobGauges(m: DriverMetrics): Promise<void> {
    try {
      const { rows, oldest } = await withTimeout(this.view.offsets.withOldestRecords(), 3000, 'Kafka offsets');
      m.setLag(lagReport(rows, oldest));
    } catch (e) {
      this.logger.debug({ err: (e as Error).message }, 'lag not refreshed for /metrics');
    }
    try {
      m.deadLetterQueueSize.set(await withTimeout(deadLetterQueueSize(this.view.store), 3000, 'dead-letter queue size'));
    } catch (e) {
      this.logger.debug({ err: (e as Error).message }, 'dead-letter queue size not refreshed for /metrics');
    }
  }

  /**
   * Readiness: `any` (`/readyz`) is ready as the leader, holding a live lease and planning or waiting
   * for executors, or as a standby able to take over (its Redis access checked, waiting for the
   * lease); `leader` (`/leaderz`) only as the leader. Both also need Redis and Kafka to answer.
   */
  private async ready(res: ServerResponse, want: 'any' | 'leader'): Promise<void> {
    const reasons: string[] = [];
    const state = this.view.state;
    const role = state === 'standby' ? 'standby' : 'leader';
    if (role === 'standby' && want === 'leader') reasons.push('this driver is a standby');
    else if (role === 'leader' && !leaderStates.has(state)) reasons.push(`driver is ${state}`);
    if (role === 'leader' && !this.view.leading) reasons.push('this driver does not hold the leader lease');
    // Redis is not asked before it was first reached: the start-up wait owns that connection.
    if (state === 'waiting-for-redis') return json(res, 503, { status: 'not ready', reason: reasons.join('; ') });
    const checks = await Promise.allSettled([
      withTimeout(this.view.store.client.ping(), 2000, 'Redis PING'),
      withTimeout(this.view.offsets.snapshot(), 3000, 'Kafka offsets'),
    ]);
    const [redis, kafka] = checks;
    if (redis?.status === 'rejected') reasons.push(`Redis: ${(redis.reason as Error).message}`);
    if (kafka?.status === 'rejected') reasons.push(`Kafka: ${(kafka.reason as Error).message}`);
    if (reasons.length) return json(res, 503, { status: 'not ready', reason: reasons.join('; ') });
    json(res, 200, { status: 'ready', role, state });
  }

  /**
   * A standby forwards a GET or HEAD of the UI or API to the leader, once the leader published
   * where it is reached. False when this driver answers itself: it is no standby (a leader, also
   * one whose lease lapsed in an outage, answers for itself), there is no leader to forward to, or
   * the leader could not be reached (then the answer is this driver's view, which names the leader).
   */
  private async forwardToLeader(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const v = this.view;
    if (v.state !== 'standby' || req.headers[FORWARDED_BY] !== undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const leader = await readLeader(v.store.client, v.job).catch(() => null);
    if (!leader?.info || leader.id === v.driverId) return false;
    const target = new URL(req.url ?? '/', leader.info.httpUrl);
    const forwarded = await forward(req, res, target, v.driverId);
    if (!forwarded)
      this.logger.debug({ leader: leader.id, url: target.href }, 'the leader did not answer a forwarded request; answering it here');
    return forwarded;
  }
}

/**
 * Sends `req` to `target` and its answer back. False when no answer started (the leader refused
 * the connection, or was silent for FORWARD_TIMEOUT_MS): `res` is untouched then. An answer that
 * breaks off ends `res` as well.
 */
function forward(req: IncomingMessage, res: ServerResponse, target: URL, forwardedBy: string): Promise<boolean> {
  return new Promise((resolve) => {
    const upstream = request(target, {
      method: req.method,
      headers: { ...endToEnd(req.headers), [FORWARDED_BY]: forwardedBy },
      timeout: FORWARD_TIMEOUT_MS,
    });
    upstream.on('response', (answer) => {
      resolve(true);
      res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      pipeline(answer, res).catch(() => res.destroy());
    });
    // Silent for that long (paused, cut off): as good as not answering.
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', () => resolve(false));
    upstream.end();
  });
}

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hopByHop.has(name)));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `'${name}' must be a non-negative integer, got '${raw}'`);
  return n;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms))
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
