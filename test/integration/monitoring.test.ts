import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { uniqueName } from '../helpers/env';
import { chartDir, find, helm, helmBinary, render, type K8sObject } from '../helpers/helm';
import { createTopic, produceValues, withProducer } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { parsePrometheus, type Sample } from '../helpers/prometheus';
import { promtool, promtoolBinary } from '../helpers/promtool';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(180_000);

/** The release test/helpers/helm.ts renders (its full name, as it holds "sluice"). */
const release = 'sluice-test';
const namespace = 'sluice-monitoring';
const driverService = `${release}-driver`;
/** The target labels prometheus-operator gives the driver's series (ServiceMonitor on the driver Service). */
const driverTarget = {
  namespace,
  service: driverService,
  job: driverService,
  endpoint: 'http',
  container: 'driver',
  pod: `${driverService}-0`,
  instance: '10.0.0.1:4040',
};
const alertNames = [
  'SluiceLagGrowing',
  'SluiceNoBatchCommitted',
  'SluiceBatchesFailed',
  'SluiceExecutorsMissing',
  'SluiceSchedulingDelayHigh',
];

/** A PrometheusRule's rule group, as rendered. */
interface RuleGroup {
  name: string;
  rules: Array<{ record?: string; alert?: string; expr: string; annotations?: Record<string, string> }>;
}

/** What the checks read of the Grafana dashboard. */
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ type: string; query?: { query: string } }> };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: unknown;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

/** A scrape of /metrics, and when it was due. */
interface Scrape {
  at: number;
  samples: Sample[];
}

describe('monitoring kit: the PrometheusRule and the Grafana dashboard of the chart', () => {
  let helmBin: string;
  let promtoolBin: string;
  let dir: string;
  beforeAll(() => {
    helmBin = helmBinary();
    promtoolBin = promtoolBinary();
    dir = mkdtempSync(join(tmpdir(), 'sluice-monitoring-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(killAll);

  it('is off by default; rendered, it passes helm lint --strict and promtool check rules', () => {
    const kinds = (objects: K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`);
    const plain = kinds(render(helmBin, ['ci/default-values.yaml']));
    expect(plain.filter((k) => k.startsWith('PrometheusRule/') || k.endsWith('-dashboard'))).toEqual([]);

    const lint = helm(helmBin, ['lint', '--strict', chartDir, '-f', join(chartDir, 'ci/monitoring-values.yaml')]);
    expect([lint.status, lint.stdout + lint.stderr]).toEqual([0, expect.stringContaining('1 chart(s) linted, 0 chart(s) failed')]);
    const objects = render(helmBin, ['ci/monitoring-values.yaml']);
    const rule = find(objects, 'PrometheusRule', release);
    expect(rule.metadata.labels).toMatchObject({ release: 'prometheus' });
    const rules = writeRules(dir, rule);
    const check = promtool(promtoolBin, ['check', 'rules', '--lint-fatal', rules], dir);
    expect([check.status, check.output]).toEqual([0, expect.stringContaining('SUCCESS: 11 rules found')]);
    expect(alertRules(rule).map((r) => r.alert)).toEqual(alertNames);

    // The dashboard ConfigMap carries the chart's file as it is, for the sidecar to find.
    const dashboard = find(objects, 'ConfigMap', `${release}-dashboard`);
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect((dashboard.metadata as { annotations?: unknown }).annotations).toEqual({ grafana_folder: 'sluice' });
    expect((dashboard.data as Record<string, string>)['sluice.json']).toBe(
      readFileSync(join(chartDir, 'dashboards', 'sluice.json'), 'utf8').trimEnd()
    );
  });

  it('against a real job: the dashboard names only exported metrics; no alert fires while it runs, stopping its executors fires the right ones', async () => {
    const topic = uniqueName('mon');
    await createTopic(topic, 2);
    await produceValues(
      topic,
      Array.from({ length: 1000 }, (_, i) => `m${i}`),
      2
    );
    const job = jobArgs('examples/audit', topic);
    const port = String(await freePort());
    const [driverHttp, executorHttp] = [await freePort(), await freePort()];
    // 100 records per partition per 500 ms batch: the backlog takes about 2.5 s.
    const driver = sluice(['driver', ...job, '--grpc-port', port, '--batch-interval-ms', '500', '--max-rate-per-partition', '200'], {
      SLUICE_DRIVER_HTTP_PORT: String(driverHttp),
    });
    const executor = sluice(['executor', ...job, '--driver', `127.0.0.1:${port}`], { SLUICE_EXECUTOR_HTTP_PORT: String(executorHttp) });
    await driver.waitForOutput(/^batch 1: /m);

    // Both roles as they export: the dashboard may name nothing else.
    const exported = new Set<string>();
    for (const url of [`http://127.0.0.1:${driverHttp}/metrics`, `http://127.0.0.1:${executorHttp}/metrics`]) {
      for (const s of parsePrometheus(await (await fetch(url)).text())) exported.add(s.name);
    }
    checkDashboard(join(chartDir, 'dashboards', 'sluice.json'), exported, promtoolBin, dir);

    // The driver scraped every second, as Prometheus would: phase A with the executor running, phase
    // B after it stopped, with records still coming in.
    const scrapes = new Sampler(`http://127.0.0.1:${driverHttp}/metrics`, 1000);
    scrapes.start();
    await waitFor(() => scrapes.count >= 6, { timeoutMs: 20_000, label: 'six scrapes with the executor running' });
    const endOfA = scrapes.count - 1;
    executor.kill('SIGTERM');
    await executor.succeeds(30_000);
    const stoppedAt = scrapes.count;
    await withProducer(async (producer) => {
      // Input keeps coming: four records a second.
      scrapes.afterEach = async () => {
        await producer.send({ topic, messages: ['late-1', 'late-2', 'late-3', 'late-4'].map((value, i) => ({ value, partition: i % 2 })) });
      };
      try {
        await waitFor(() => scrapes.count >= stoppedAt + 9, { timeoutMs: 30_000, label: 'nine scrapes after the executor stopped' });
      } finally {
        scrapes.afterEach = () => Promise.resolve();
      }
    });
    const all = await scrapes.stop();
    assertRunning(driver);
    const endOfB = all.length - 1;

    const rule = find(renderMonitoring(helmBin), 'PrometheusRule', release);
    // The alerts as they fire: the target's labels that identify the job, and the rendered annotations.
    const firing = (alertname: string, severity: string): object => ({
      exp_labels: { severity, namespace, service: driverService, job: driverService },
      exp_annotations: alertRules(rule).find((r) => r.alert === alertname)?.annotations,
    });
    const tests = {
      rule_files: [writeRules(dir, rule)],
      evaluation_interval: '1s',
      tests: [
        {
          interval: '1s',
          input_series: inputSeries(all, driverTarget),
          alert_rule_test: [
            ...alertNames.map((alertname) => ({ eval_time: `${endOfA}s`, alertname, exp_alerts: [] })),
            { eval_time: `${endOfB}s`, alertname: 'SluiceNoBatchCommitted', exp_alerts: [firing('SluiceNoBatchCommitted', 'critical')] },
            { eval_time: `${endOfB}s`, alertname: 'SluiceExecutorsMissing', exp_alerts: [firing('SluiceExecutorsMissing', 'warning')] },
            { eval_time: `${endOfB}s`, alertname: 'SluiceLagGrowing', exp_alerts: [firing('SluiceLagGrowing', 'warning')] },
            { eval_time: `${endOfB}s`, alertname: 'SluiceBatchesFailed', exp_alerts: [] },
            { eval_time: `${endOfB}s`, alertname: 'SluiceSchedulingDelayHigh', exp_alerts: [] },
          ],
        },
      ],
    };
    const file = join(dir, 'alerts.test.yaml');
    writeFileSync(file, stringify(tests));
    const result = promtool(promtoolBin, ['test', 'rules', file], dir);
    expect([result.status, result.output]).toEqual([0, expect.stringContaining('SUCCESS')]);
  });
});

/** The chart with the PrometheusRule on, thresholds scaled to a 500 ms batch interval and 1 s evaluations. */
function renderMonitoring(helmBin: string): K8sObject[] {
  const alerts = 'monitoring.prometheusRule.alerts';
  return render(
    helmBin,
    ['ci/default-values.yaml'],
    [
      '--namespace',
      namespace,
      '--set',
      ['monitoring.prometheusRule.enabled=true', 'monitoring.prometheusRule.interval=1s', 'executor.replicas=1'].join(','),
      '--set',
      [`${alerts}.lagGrowing.window=5s`, `${alerts}.lagGrowing.minLag=0`, `${alerts}.lagGrowing.for=1s`].join(','),
      '--set',
      [`${alerts}.noBatchCommitted.intervals=4`, `${alerts}.noBatchCommitted.for=1s`, `${alerts}.executorsMissing.for=1s`].join(','),
      '--set',
      [`${alerts}.failedBatches.window=10s`, `${alerts}.schedulingDelay.window=5s`, `${alerts}.schedulingDelay.for=1s`].join(','),
    ]
  );
}

function ruleGroups(rule: K8sObject): RuleGroup[] {
  return (rule.spec as { groups: RuleGroup[] }).groups;
}

function alertRules(rule: K8sObject): RuleGroup['rules'] {
  return ruleGroups(rule).flatMap((g) => g.rules.filter((r) => r.alert !== undefined));
}

/** The PrometheusRule's groups as a Prometheus rule file; returns its name (in `dir`). */
function writeRules(dir: string, rule: K8sObject): string {
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: ruleGroups(rule) }));
  return 'rules.yaml';
}

/**
 * promtool's input series from scrapes taken a second apart (scrape i at i seconds): the driver's
 * sluice_* series with the target's labels, `_` where a scrape lacked a series. promtool's clock
 * starts at 0, so wall-clock values (`*_timestamp_seconds`) move by the first scrape's time.
 */
function inputSeries(scrapes: Scrape[], target: Record<string, string>): Array<{ series: string; values: string }> {
  const t0 = (scrapes[0] as Scrape).at / 1000;
  const series = new Map<string, Array<string>>();
  scrapes.forEach((scrape, i) => {
    for (const s of scrape.samples) {
      if (!s.name.startsWith('sluice_')) continue;
      const labels = { ...s.labels, ...target };
      const key = `${s.name}{${Object.entries(labels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}}`;
      const values =
        series.get(key) ??
        series
          .set(
            key,
            scrapes.map(() => '_')
          )
          .get(key);
      (values as string[])[i] = String(s.name.endsWith('_timestamp_seconds') ? s.value - t0 : s.value);
    }
  });
  return [...series].map(([key, values]) => ({ series: key, values: values.join(' ') }));
}

/**
 * Every query of the dashboard parses as PromQL (promtool, Grafana's variables filled in) and
 * names only metrics in `exported`; every panel queries the dashboard's data source variable.
 */
function checkDashboard(path: string, exported: Set<string>, promtoolBin: string, dir: string): void {
  const dashboard = JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  const queries: string[] = [];
  for (const panel of panels.filter((p) => p.type !== 'row')) {
    expect([panel.title, panel.datasource]).toEqual([panel.title, { type: 'prometheus', uid: '${datasource}' }]);
    expect([panel.title, (panel.targets ?? []).length > 0]).toEqual([panel.title, true]);
    for (const t of panel.targets ?? []) queries.push(t.expr);
  }
  for (const v of dashboard.templating.list.filter((l) => l.type === 'query')) {
    queries.push(/^label_values\((.*), \w+\)$/.exec(v.query?.query ?? '')?.[1] as string);
  }
  const named = [...new Set(queries.flatMap(metricNames))].sort();
  expect(named.filter((n) => !exported.has(n))).toEqual([]);
  expect(named.filter((n) => n.startsWith('sluice_')).length).toBeGreaterThan(20);

  const filled = (expr: string): string =>
    expr
      .replace(/\$__rate_interval/g, '1m')
      .replace(/\$namespace/g, 'ns')
      .replace(/\$release/g, 'rel');
  writeFileSync(
    join(dir, 'dashboard-queries.yaml'),
    stringify({
      groups: [{ name: 'dashboard', rules: queries.map((expr, i) => ({ record: `dashboard_query_${i}`, expr: filled(expr) })) }],
    })
  );
  const check = promtool(promtoolBin, ['check', 'rules', 'dashboard-queries.yaml'], dir);
  expect([check.status, check.output]).toEqual([0, expect.stringContaining('SUCCESS')]);
}

/** The metric names a PromQL expression selects (not functions, label names, strings or keywords). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice(m.index + m[0].length)))
    .map((m) => m[0])
    .filter((name) => !['and', 'or', 'unless', 'bool', 'offset'].includes(name));
}

function assertRunning(p: SluiceProcess): void {
  if (p.child.exitCode !== null) throw new Error(`driver exited ${p.child.exitCode}: ${p.stderr.slice(-2000)}`);
}

/**
 * Scrapes a /metrics URL on a fixed clock, as Prometheus does (scrape i due at start + i × period),
 * so that scrape i stands for second i of promtool's series.
 */
class Sampler {
  readonly scrapes: Scrape[] = [];
  afterEach: () => Promise<void> = () => Promise.resolve();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly periodMs: number
  ) {}

  get count(): number {
    return this.scrapes.length;
  }

  start(): void {
    const start = Date.now();
    this.loop = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const due = start + i * this.periodMs;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
        // A scrape that cannot be on time is missed, as Prometheus misses one: no sample at i.
        const onTime = Date.now() - due < this.periodMs / 2;
        this.scrapes.push({ at: due, samples: onTime ? parsePrometheus(await (await fetch(this.url)).text()) : [] });
        if (onTime) await this.afterEach();
      }
    })();
  }

  async stop(): Promise<Scrape[]> {
    this.stopped = true;
    await this.loop;
    return this.scrapes;
  }
}
