import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { BatchSummary } from '@sluice/common';
import { repoRoot, uniqueName } from '../helpers/env';
import { createTopic, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

/** Debian's chromium (deploy/local/test-deps.sh installs it from the tests' global setup). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(repoRoot, 'test-artifacts');

const charts = ['input-rate', 'scheduling-delay', 'processing-time', 'total-delay', 'lag'].flatMap((c) => [
  `chart-${c}-timeline`,
  `chart-${c}-histogram`,
]);

describe('driver web UI', () => {
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  afterEach(async () => {
    await context?.close();
    context = undefined;
    if (profile) rmSync(profile, { recursive: true, force: true });
    await killAll();
  });

  it('shows live batches, charts, and a batch page that match the JSON API, from local assets only', async () => {
    const topic = uniqueName('ui');
    await createTopic(topic, 3);
    await produceValues(
      topic,
      Array.from({ length: 3000 }, (_, i) => `u${i}`),
      3
    );
    const [grpcPort, httpPort] = [String(await freePort()), await freePort()];
    const job = jobArgs('examples/audit', topic);
    // 250 records per partition per 1 s batch: the backlog takes four batches, then empty ones follow.
    const driver = sluice(['driver', ...job, '--grpc-port', grpcPort, '--batch-interval-ms', '1000', '--max-rate-per-partition', '250'], {
      SLUICE_DRIVER_HTTP_PORT: String(httpPort),
    });
    sluice(['executor', ...job, '--driver', `127.0.0.1:${grpcPort}`]);
    const origin = `http://127.0.0.1:${httpPort}`;
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${origin}/api/v1/${path}`);
      if (!res.ok) throw new Error(`GET /api/v1/${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };

    await waitFor(
      async () => {
        if (driver.child.exitCode !== null) throw new Error(`driver exited ${driver.child.exitCode}: ${driver.stderr.slice(-2000)}`);
        const { completed } = await api<{ completed: BatchSummary[] }>('batches?limit=50');
        return completed.filter((b) => b.records > 0).length >= 3;
      },
      { timeoutMs: 60_000, intervalMs: 250, label: 'three batches with records committed' }
    );

    profile = mkdtempSync(join(tmpdir(), 'sluice-ui-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const foreign: string[] = [];
    const problems: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(origin)) foreign.push(req.url());
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });

    // Overview: header, charts drawn by uPlot, and tables fed by polling (no reload).
    await page.goto(`${origin}/`);
    await expectText(page, 'job-name', topic);
    await expectText(page, 'state', 'running');
    await waitFor(async () => (await page.locator('[data-testid="completed-batch-row"]').count()) >= 3, {
      timeoutMs: 15_000,
      label: 'three completed batch rows',
    });
    for (const chart of charts) {
      const canvas = page.locator(`[data-testid="${chart}"] .uplot canvas`).first();
      await canvas.waitFor({ timeout: 10_000 });
      const box = await canvas.boundingBox();
      expect(box?.width).toBeGreaterThan(0);
      expect(box?.height).toBeGreaterThan(0);
    }
    // The batch interval is drawn on the processing-time chart as its own series.
    expect(await page.locator('[data-testid="chart-processing-time-timeline"] .u-legend').innerText()).toContain('batch interval');

    // Live: the page picks up batches committed after it loaded.
    const firstTop = await topRowId(page);
    await waitFor(async () => (await topRowId(page)) > firstTop, { timeoutMs: 10_000, label: 'a newer batch shown without reload' });

    // The completed-batches table equals the API's first page (retried: both move every second).
    await waitFor(
      async () => {
        const rows = await completedRows(page);
        const { completed } = await api<{ completed: BatchSummary[] }>(`batches?limit=${rows.length}`);
        const expected = completed.map((b) => ({ id: b.id, records: b.records }));
        return JSON.stringify(rows) === JSON.stringify(expected) ? rows : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, label: 'completed batches table = /api/v1/batches' }
    );
    // Each row's records also match the API's batch by id, whatever the timing.
    const rows = await completedRows(page);
    // (`/batches/:id` reads a history cached for up to a second, so the newest id may lag briefly.)
    for (const row of rows.slice(0, 5)) {
      const byId = await waitFor(() => api<BatchSummary>(`batches/${row.id}`), {
        timeoutMs: 5_000,
        intervalMs: 200,
        label: `batch ${row.id}`,
      });
      expect(byId.records).toBe(row.records);
    }
    await expectText(page, 'total-batches', /\d/);

    // Lag over time: the records left to read when each batch was planned, 250 per partition less
    // each batch until the backlog is read.
    const lagHistory = await waitFor(
      async () => {
        const samples = await api<Array<{ batch: number; time: number; lag: string }>>('lag/history');
        return samples.some((s) => s.batch === 5) ? samples : undefined;
      },
      { timeoutMs: 15_000, label: 'the lag of batch 5' }
    );
    const byBatch = Object.fromEntries(lagHistory.filter((s) => s.batch <= 5).map((s) => [s.batch, s.lag]));
    expect(byBatch).toEqual({ 1: '3000', 2: '2250', 3: '1500', 4: '750', 5: '0' });

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'ui-overview.png'), fullPage: true });

    // A point of a timeline chart opens its batch: the leftmost is the oldest batch charted, batch 1.
    for (const chart of ['chart-lag-timeline', 'chart-input-rate-timeline']) {
      await page.goto(`${origin}/`);
      const plot = page.locator(`[data-testid="${chart}"] .u-over`);
      await plot.waitFor({ timeout: 10_000 });
      const box = await plot.boundingBox();
      await plot.click({ position: { x: 1, y: (box?.height ?? 2) / 2 } });
      await expectText(page, 'batch-id', '1');
      expect(new URL(page.url()).hash).toBe('#/batches/1');
      await expectText(page, 'batch-status', 'committed');
    }

    // Batch page, through the /batches/:id route: its ranges equal /api/v1/batches/:id.
    const { completed } = await api<{ completed: BatchSummary[] }>('batches?limit=50');
    const withRecords = completed.find((b) => b.records > 0 && b.ranges.length > 1) ?? completed.find((b) => b.records > 0);
    expect(withRecords).toBeDefined();
    const batch = await api<BatchSummary>(`batches/${withRecords?.id}`);
    await page.goto(`${origin}/batches/${batch.id}`);
    await expectText(page, 'batch-id', String(batch.id));
    await expectText(page, 'batch-status', 'committed');
    const rangeRows = page.locator('[data-testid="range-row"]');
    await waitFor(async () => (await rangeRows.count()) === batch.ranges.length, { timeoutMs: 10_000, label: 'one row per range' });
    const shown = [];
    for (let i = 0; i < batch.ranges.length; i++) {
      const tr = rangeRows.nth(i);
      const cell = (id: string): Promise<string> => tr.locator(`[data-testid="${id}"]`).innerText();
      shown.push({
        topic: await cell('range-topic'),
        partition: Number(await cell('range-partition')),
        from: await cell('range-from'),
        until: await cell('range-until'),
        records: Number(await tr.locator('[data-testid="range-records"]').getAttribute('data-value')),
        executor: await cell('range-executor'),
        attempts: Number(await cell('range-attempts')),
        speculative: await cell('range-speculative'),
      });
    }
    const expected = [...batch.ranges]
      .sort((a, b) => a.partition - b.partition)
      .map((r) => ({
        topic: r.topic,
        partition: r.partition,
        from: r.from,
        until: r.until,
        records: r.records,
        executor: r.executor,
        attempts: r.attempt + 1, // `attempt` is 0-based; the page shows how many attempts it took
        speculative: 'no',
      }));
    expect([...shown].sort((a, b) => a.partition - b.partition)).toEqual(expected);
    expect(shown.every((r) => r.topic === topic)).toBe(true);
    await page.screenshot({ path: join(artifacts, 'ui-batch.png'), fullPage: true });

    // The executor is listed.
    await page.goto(`${origin}/#/executors`);
    await page.waitForSelector('[data-testid="executor-row"]', { timeout: 10_000 });
    expect(await page.locator('[data-testid="executor-row"] td').nth(2).innerText()).toBe('alive');

    // Lag per partition, one row each.
    await page.goto(`${origin}/#/lag`);
    await waitFor(async () => (await page.locator('[data-testid="lag-row"]').count()) === 3, {
      timeoutMs: 10_000,
      label: 'three lag rows',
    });
    // Everything read: no record waits, so the oldest unprocessed record is 0 s old everywhere.
    const ages = await Promise.all((await page.locator('[data-testid="lag-seconds"]').all()).map((c) => c.getAttribute('data-value')));
    expect(ages).toEqual(['0', '0', '0']);
    await expectText(page, 'lag-max-seconds', '0 ms');

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);

    driver.kill('SIGTERM');
    await driver.exit(30_000);
  });
});

async function expectText(page: Page, testId: string, expected: string | RegExp): Promise<void> {
  await waitFor(
    async () => {
      const text = await page.locator(`[data-testid="${testId}"]`).innerText();
      return (typeof expected === 'string' ? text === expected : expected.test(text)) || undefined;
    },
    { timeoutMs: 10_000, intervalMs: 100, label: `[data-testid=${testId}] showing ${String(expected)}` }
  );
}

/** Read in one snapshot of the table: the ids and records as the row attributes carry them. */
async function completedRows(page: Page): Promise<Array<{ id: number; records: number }>> {
  const table = await page.locator('[data-testid="completed-batches"] tbody').innerHTML();
  return [
    ...table.matchAll(/data-testid="completed-batch-row" data-batch-id="(\d+)"[\s\S]*?data-testid="batch-records" data-value="(\d+)"/g),
  ].map((m) => ({ id: Number(m[1]), records: Number(m[2]) }));
}

async function topRowId(page: Page): Promise<number> {
  return Number(await page.locator('[data-testid="completed-batch-row"]').first().getAttribute('data-batch-id'));
}
