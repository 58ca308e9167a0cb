import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'acorn';

/**
 * The k6 scripts in deploy/k6 cannot run here (k6 is not installed), so they are kept honest two
 * ways: every file parses as an ES module, and the scripts run under node with k6's modules
 * stubbed (k6-stubs/): their options, the records they produce and the metrics they derive from
 * the driver's API are checked.
 */

const k6Dir = join(__dirname, '..', '..', '..', '..', 'deploy', 'k6');
const stubs = join(__dirname, 'k6-stubs');

function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? scripts(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []
  );
}

interface Outcome {
  options: {
    scenarios: Record<string, Record<string, unknown>>;
    thresholds: Record<string, string[]>;
  };
  data: { startedAt: number; run?: string };
  state: {
    checks: Array<{ name: string; ok: boolean; tags: Record<string, string> }>;
    requests: Array<{ url: string }>;
    metrics: Record<string, number[]>;
    writers: Array<Record<string, unknown>>;
    produced: Array<{ value: string }>;
    topicsCreated: Array<Record<string, unknown>>;
  };
  summary: { stdout: string } | null;
}

function runScript(script: string, plan: object): Outcome {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-k6-'));
  try {
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, JSON.stringify(plan));
    const out = execFileSync(process.execPath, [join(stubs, 'run.mjs'), script, planFile], { encoding: 'utf8' });
    return JSON.parse(out) as Outcome;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const now = Date.now();
const api = {
  '/api/v1/status': { status: 200, body: JSON.stringify({ job: 'load', state: 'running' }) },
  '/api/v1/batches': {
    status: 200,
    body: JSON.stringify({
      active: [],
      completed: [
        { id: 7, time: now + 60_000, records: 500, totalDelayMs: 180, schedulingDelayMs: 3 },
        { id: 6, time: now + 59_000, records: 0, totalDelayMs: 4, schedulingDelayMs: 0 },
        { id: 1, time: now - 600_000, records: 100, totalDelayMs: 9_000, schedulingDelayMs: 0 },
      ],
    }),
  },
  '/api/v1/lag': { status: 200, body: JSON.stringify({ total: '42', min: 0, max: 42, avg: 21, partitions: [] }) },
  '/metrics': { status: 200, body: 'sluice_batches_total{outcome="committed"} 7\nsluice_batches_total{outcome="failed"} 0\n' },
};

describe('k6 scripts (deploy/k6)', () => {
  it.each(scripts(k6Dir).map((f) => [f.slice(k6Dir.length + 1), f]))('%s parses as an ES module', (_name, file) => {
    expect(() => parse(readFileSync(file, 'utf8'), { ecmaVersion: 2020, sourceType: 'module' })).not.toThrow();
  });

  it('load.js: a constant arrival rate of records in the load job format, and the exactly-once command', () => {
    const env = {
      BROKERS: '10.0.0.1:9092,10.0.0.2:9092',
      TOPIC: 'orders',
      RATE: '3000',
      DURATION: '60',
      DRAIN: '20',
      SIZE: '120',
      BATCH: '10',
      RUN: 'k6-test',
      PARTITIONS: '6',
    };
    const out = runScript(join(k6Dir, 'load.js'), { env, responses: api, calls: [{ fn: 'produce', iterationInTest: 3 }, { fn: 'watch' }] });

    expect(out.options.scenarios.produce).toMatchObject({
      executor: 'constant-arrival-rate',
      exec: 'produce',
      rate: 3000,
      timeUnit: '10s',
      duration: '60s',
    });
    expect(out.options.scenarios.watch).toMatchObject({ executor: 'constant-vus', exec: 'watch', vus: 1, duration: '80s' });
    expect(out.options.thresholds).toMatchObject({
      sluice_lag: ['value<=0'],
      sluice_batch_total_delay: ['p(99)<2000'],
      sluice_failed_batches: ['value==0'],
      'checks{sluice:api}': ['rate==1'],
      kafka_writer_error_count: ['count==0'],
    });
    expect(out.state.writers).toEqual([
      { brokers: ['10.0.0.1:9092', '10.0.0.2:9092'], topic: 'orders', balancer: 'balancer_roundrobin', requiredAcks: -1 },
    ]);
    expect(out.state.topicsCreated).toEqual([{ topic: 'orders', numPartitions: 6, replicationFactor: 1 }]);

    // Iteration 3 of batches of 10: ids 30..39, each value SIZE bytes with its production time.
    const values = out.state.produced.map((m) => JSON.parse(m.value) as { id: string; ts: number });
    expect(values.map((v) => v.id)).toEqual(Array.from({ length: 10 }, (_, i) => `k6-test:${30 + i}`));
    for (const m of out.state.produced) expect(Buffer.byteLength(m.value)).toBe(120);
    for (const v of values) expect(Math.abs(v.ts - Date.now())).toBeLessThan(60_000);

    // Only loaded batches of this test count; lag and failed batches are read.
    expect(out.state.metrics).toMatchObject({
      sluice_batch_total_delay: [180],
      sluice_batch_scheduling_delay: [3],
      sluice_lag: [42],
      sluice_failed_batches: [0],
      sluice_load_ids: [10],
    });
    expect(out.state.checks.length).toBeGreaterThan(0);
    expect(out.state.checks.every((c) => c.ok && c.tags.sluice === 'api')).toBe(true);
    expect(out.summary?.stdout).toBe(
      ' ✓ sluice_load_ids: count=10\n\n exactly-once: sluice load --check k6-test --expected 10 --job-name load --topic orders\n'
    );
  });

  it('check.js: watches the API alone; a failed batch and a stopped driver show in its metrics and checks', () => {
    const responses = {
      ...api,
      '/api/v1/status': { status: 200, body: JSON.stringify({ state: 'stopped' }) },
      '/metrics': { status: 200, body: 'sluice_batches_total{outcome="failed"} 2\n' },
    };
    const out = runScript(join(k6Dir, 'check.js'), {
      env: { SLUICE_URL: 'http://10.0.0.9:4040/', DURATION: '30', MAX_P99_DELAY_MS: '500' },
      responses,
      calls: [{ fn: 'watch' }],
    });
    expect(out.options.scenarios).toEqual({ watch: { executor: 'constant-vus', vus: 1, duration: '30s', exec: 'watch' } });
    expect(out.options.thresholds.sluice_batch_total_delay).toEqual(['p(99)<500']);
    expect(out.state.requests.map((r) => r.url)).toEqual([
      'http://10.0.0.9:4040/api/v1/status',
      'http://10.0.0.9:4040/api/v1/batches?limit=100',
      'http://10.0.0.9:4040/api/v1/lag',
      'http://10.0.0.9:4040/metrics',
    ]);
    expect(out.state.metrics.sluice_failed_batches).toEqual([2]);
    expect(out.state.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['driver is running']);
  });
});
