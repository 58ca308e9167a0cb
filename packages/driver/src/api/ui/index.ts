import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

/**
 * The driver's web UI: one HTML page, one script, one style sheet and the charting library
 * (uPlot), all served from files next to this module (`dist/api/ui/static/`, copied there by
 * `deploy/copy-assets.js`), so the UI works without any network access beyond the driver itself.
 * The page reads only the JSON API (`api/v1/...`, relative URLs), polling it every second.
 *
 * Routes: `GET /` (the app), `GET /batches/:id` (a redirect to the app's batch page,
 * `/#/batches/:id`), `GET /ui/<file>` (static assets). `HEAD` is answered like `GET`.
 */

const staticRoot = resolve(__dirname, 'static');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Only the page's own origin: no inline script, no remote anything. */
const securityHeaders = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const cache = new Map<string, Buffer>();

/** A file under the static root, or undefined for anything outside it or missing. */
function readAsset(relative: string): Buffer | undefined {
  // Plain segments only: no `..`, no hidden files, no backslashes or NULs, no empty segments.
  const segments = relative.split('/');
  if (segments.length === 0 || segments.some((s) => !/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(s) || s.includes('..'))) return undefined;
  const file = join(staticRoot, ...segments);
  if (!file.startsWith(staticRoot + sep)) return undefined;
  const cached = cache.get(file);
  if (cached) return cached;
  try {
    const body = readFileSync(file);
    cache.set(file, body);
    return body;
  } catch {
    return undefined;
  }
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  type: string,
  body: Buffer | string,
  cacheControl = 'no-cache'
): void {
  const buffer = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...securityHeaders,
    'Content-Type': type,
    'Content-Length': buffer.length,
    'Cache-Control': cacheControl,
  });
  res.end(req.method === 'HEAD' ? undefined : buffer);
}

function notFound(req: IncomingMessage, res: ServerResponse, what: string): void {
  send(req, res, 404, 'text/plain; charset=utf-8', `not found: ${what}\n`);
}

/**
 * Serves the UI's routes; returns true when it answered the request (including a 404 for a
 * missing asset under `/ui/`), false when the request is not the UI's (the caller answers it).
 */
export function uiHandler(req: IncomingMessage, res: ServerResponse): boolean {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://driver').pathname;
  } catch {
    return false;
  }
  const isUiPath = pathname === '/' || pathname === '/index.html' || pathname.startsWith('/ui/') || /^\/batches\/[^/]+\/?$/.test(pathname);
  if (!isUiPath) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return true;
  }

  if (pathname === '/' || pathname === '/index.html') {
    const page = readAsset('index.html');
    if (!page) notFound(req, res, 'UI assets (index.html) are missing: was the driver built with deploy/copy-assets.js?');
    else send(req, res, 200, contentTypes['.html'] as string, page);
    return true;
  }

  const batch = /^\/batches\/([^/]+)\/?$/.exec(pathname);
  if (batch) {
    // A relative Location keeps working behind a reverse proxy that mounts the driver under a prefix.
    const id = encodeURIComponent(decodeSafely(batch[1] as string));
    const up = pathname.endsWith('/') ? '../../' : '../';
    res.writeHead(302, { ...securityHeaders, Location: `${up}#/batches/${id}`, 'Content-Length': 0 });
    res.end();
    return true;
  }

  const relative = decodeSafely(pathname.slice('/ui/'.length));
  const body = readAsset(relative);
  if (!body) {
    notFound(req, res, pathname);
    return true;
  }
  const type = contentTypes[extname(relative).toLowerCase()] ?? 'application/octet-stream';
  send(req, res, 200, type, body);
  return true;
}

function decodeSafely(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return '\0';
  }
}
