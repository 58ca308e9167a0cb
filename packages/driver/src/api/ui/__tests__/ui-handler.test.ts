import type { IncomingMessage, ServerResponse } from 'node:http';
import { uiHandler } from '../index';

interface Answer {
  handled: boolean;
  status?: number;
  headers: Record<string, string | number>;
  body: string;
}

/** Calls the handler with a minimal request and a response that records what it was told. */
function get(url: string, method = 'GET'): Answer {
  const answer: Answer = { handled: false, headers: {}, body: '' };
  const res = {
    headersSent: false,
    writeHead(status: number, headers: Record<string, string | number> = {}) {
      answer.status = status;
      answer.headers = headers;
      return this;
    },
    end(body?: Buffer | string) {
      answer.body = body === undefined ? '' : body.toString();
    },
  };
  answer.handled = uiHandler({ url, method } as unknown as IncomingMessage, res as unknown as ServerResponse);
  return answer;
}

describe('uiHandler', () => {
  it('serves the app page at / with a same-origin-only content security policy', () => {
    const page = get('/');
    expect(page).toMatchObject({ handled: true, status: 200 });
    expect(page.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script src="ui/app.js"></script>');
    expect(page.body).not.toMatch(/https?:\/\//);
    expect(String(page.headers['Content-Security-Policy'])).toContain("script-src 'self'");
  });

  it('serves static assets with their content types, and HEAD without a body', () => {
    expect(get('/ui/app.js')).toMatchObject({ handled: true, status: 200, headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
    expect(get('/ui/app.css')).toMatchObject({ status: 200, headers: { 'Content-Type': 'text/css; charset=utf-8' } });
    expect(get('/ui/favicon.svg')).toMatchObject({ status: 200, headers: { 'Content-Type': 'image/svg+xml' } });
    const head = get('/ui/app.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['Content-Length'])).toBeGreaterThan(0);
    expect(head.body).toBe('');
  });

  it('redirects /batches/:id to the app route, relatively', () => {
    expect(get('/batches/42')).toMatchObject({ handled: true, status: 302, headers: { Location: '../#/batches/42' } });
    expect(get('/batches/42/')).toMatchObject({ status: 302, headers: { Location: '../../#/batches/42' } });
  });

  it.each([
    '/ui/../index.ts',
    '/ui/%2e%2e/index.ts',
    '/ui/..%2findex.ts',
    '/ui/.hidden',
    '/ui/',
    '/ui/x%00.js',
    '/ui/a\\..\\index.ts',
    '/ui/missing.js',
  ])('answers 404 for %s, never a file outside the static folder', (url) => {
    const answer = get(url);
    if (answer.handled) expect(answer.status).toBe(404);
    expect(answer.body).not.toContain('uiHandler');
  });

  it('leaves every other path to the caller, and refuses writes', () => {
    expect(get('/api/v1/status').handled).toBe(false);
    expect(get('/metrics').handled).toBe(false);
    expect(get('/nope').handled).toBe(false);
    expect(get('/', 'POST')).toMatchObject({ handled: true, status: 405 });
  });
});
