/* global window, document, location, uPlot */
/**
 * The sluice driver's web UI: a single page that reads only the driver's JSON API (relative URLs
 * `api/v1/...`, so it also works behind a path prefix) and polls it every second. Routes live in the
 * hash: `#/` streaming overview, `#/batches/<id>`, `#/executors`, `#/lag`. No build step, no
 * dependencies besides uPlot (served locally next to this file). A point of a timeline chart is a
 * batch: clicking it opens that batch's page, as in Spark's streaming UI.
 */
(function () {
  'use strict';

  const POLL_MS = 1000;
  const CHART_BATCHES = 200;
  const PAGE_SIZE = 20;

  const ui = {
    status: null,
    /** `before` of the completed-batches page shown (null: newest), and the pages we came from. */
    before: null,
    newerStack: [],
    lastPage: [],
    charts: {},
    /** By chart name: the batch id of each point of a timeline chart, oldest first. */
    chartBatches: {},
    timer: null,
    running: false,
    again: false,
  };

  // ---------------------------------------------------------------------------------------------
  // Helpers

  function tid(id, root) {
    return (root || document).querySelector('[data-testid="' + id + '"]');
  }

  function setText(id, text) {
    const node = tid(id);
    if (node) node.textContent = text;
  }

  /** An element with attributes (`data-*`, `class`, `href`, `colspan`...) and children. */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null) continue;
      if (key === 'text') node.textContent = String(value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function replaceRows(tbody, rows, columns, emptyText) {
    if (rows.length === 0) rows = [el('tr', {}, [el('td', { colspan: columns, class: 'none', text: emptyText })])];
    tbody.replaceChildren(...rows);
  }

  async function api(path) {
    const res = await window.fetch('api/v1/' + path, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) {
      let message = res.status + ' ' + res.statusText;
      try {
        const body = await res.json();
        if (body && body.error) message = body.error;
      } catch (_) {
        // not JSON: keep the status line
      }
      const error = new Error(message);
      error.status = res.status;
      throw error;
    }
    return res.json();
  }

  const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

  function fmtInt(n) {
    return n == null || Number.isNaN(Number(n)) ? '–' : int.format(Number(n));
  }

  /** Offsets and lags are decimal strings (64-bit): group digits without going through Number. */
  function fmtBig(s) {
    if (s == null) return '–';
    return /^-?\d+$/.test(String(s)) ? String(s).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : String(s);
  }

  function fmtMs(ms) {
    if (ms == null || Number.isNaN(Number(ms))) return '–';
    ms = Number(ms);
    if (ms < 1000) return int.format(ms) + ' ms';
    if (ms < 60000) return dec.format(ms / 1000) + ' s';
    return fmtDuration(ms);
  }

  function fmtDuration(ms) {
    let s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    const pad = (n) => String(n).padStart(2, '0');
    if (d > 0) return d + 'd ' + h + 'h ' + pad(m) + 'm';
    if (h > 0) return h + 'h ' + pad(m) + 'm ' + pad(s) + 's';
    if (m > 0) return m + 'm ' + pad(s) + 's';
    return s + 's';
  }

  /** A time lag in seconds (null: not known yet). */
  function fmtSeconds(s) {
    return s == null ? '–' : fmtMs(Number(s) * 1000);
  }

  function fmtBytes(n) {
    if (n == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    n = Number(n);
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? int.format(n) : dec.format(n)) + ' ' + units[i];
  }

  function fmtTime(ms) {
    if (ms == null) return '–';
    const d = new Date(Number(ms));
    const pad = (n) => String(n).padStart(2, '0');
    return (
      d.getFullYear() +
      '-' +
      pad(d.getMonth() + 1) +
      '-' +
      pad(d.getDate()) +
      ' ' +
      pad(d.getHours()) +
      ':' +
      pad(d.getMinutes()) +
      ':' +
      pad(d.getSeconds())
    );
  }

  function inputRate(batch, intervalMs) {
    return intervalMs > 0 ? batch.records / (intervalMs / 1000) : batch.records;
  }

  function avg(values) {
    return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  }

  function batchLink(id) {
    return el('a', { href: '#/batches/' + id, 'data-testid': 'batch-link', text: String(id) });
  }

  // ---------------------------------------------------------------------------------------------
  // Routing

  function route() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const batch = /^\/batches\/([^/]+)\/?$/.exec(hash);
    if (batch) return { page: 'batch', id: decodeURIComponent(batch[1]) };
    if (hash === '/executors') return { page: 'executors' };
    if (hash === '/lag') return { page: 'lag' };
    return { page: 'overview' };
  }

  function showPage(page) {
    for (const section of document.querySelectorAll('[data-page]')) section.hidden = section.dataset.page !== page;
    const nav = page === 'batch' ? 'overview' : page;
    for (const link of document.querySelectorAll('[data-nav]')) link.classList.toggle('active', link.dataset.nav === nav);
  }

  // ---------------------------------------------------------------------------------------------
  // Header (every page)

  function renderStatus(status) {
    ui.status = status;
    setText('job-name', status.job);
    const badge = tid('state');
    badge.textContent = status.state;
    badge.className = 'badge ' + status.state;
    document.title = 'sluice · ' + status.job;
    setText('started-at', fmtTime(status.startedAt));
    setText('uptime', fmtDuration(status.uptimeMs));
    setText('batch-interval', fmtMs(status.batchIntervalMs));
    const at = status.leaderInfo ? ' at ' + status.leaderInfo.httpUrl : '';
    setText('leader', status.leader ? status.leader + at : 'none (no live lease)');
    setText('epoch', String(status.epoch));
    setText('topics', (status.topics || []).join(', ') || '–');
    setText('total-batches', fmtInt(status.totals.batches));
    setText('total-records', fmtInt(status.totals.records));
    setText('total-bytes', fmtBytes(status.totals.bytes));
  }

  function showError(error) {
    const box = tid('api-error');
    if (!error) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.textContent = 'Cannot reach the driver API: ' + error.message + ' (retrying every second)';
    const badge = tid('state');
    badge.textContent = 'unreachable';
    badge.className = 'badge unreachable';
  }

  // ---------------------------------------------------------------------------------------------
  // Charts (uPlot)

  /** `source`: the completed batches, or the lag at each planned batch (`lag/history`). */
  const chartDefs = [
    { key: 'input-rate', unit: 'records/s', value: (b, interval) => inputRate(b, interval), color: '#0969da' },
    { key: 'scheduling-delay', unit: 'ms', value: (b) => b.schedulingDelayMs, color: '#8250df' },
    { key: 'processing-time', unit: 'ms', value: (b) => b.processingMs, color: '#1a7f37', interval: true },
    { key: 'total-delay', unit: 'ms', value: (b) => b.totalDelayMs, color: '#bc4c00' },
    { key: 'lag', unit: 'records', value: (s) => Number(s.lag), color: '#cf222e', source: 'lag', empty: 'no batch planned yet' },
  ];

  const zeroBased = (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1];

  function chartWidth(container) {
    return Math.max(200, Math.floor(container.getBoundingClientRect().width));
  }

  /**
   * Opens the batch of the point nearest to a click on the plot of timeline chart `name`. Listens
   * before uPlot does (capture, on its root): uPlot drops clicks it takes for the end of a drag.
   */
  function openClickedBatch(name) {
    return (u) =>
      u.root.addEventListener(
        'click',
        (event) => {
          if (event.target !== u.over) return;
          const id = (ui.chartBatches[name] || [])[u.posToIdx(event.offsetX)];
          if (id != null) location.hash = '#/batches/' + id;
        },
        true
      );
  }

  function timelineOptions(def, name, width) {
    const series = [
      { label: 'batch time', value: (_u, v) => (v == null ? '–' : fmtTime(v * 1000)) },
      { label: def.unit, stroke: def.color, width: 1.5, fill: def.color + '18', points: { show: true, size: 5 } },
    ];
    if (def.interval) series.push({ label: 'batch interval', stroke: '#cf222e', width: 1, dash: [6, 4], points: { show: false } });
    return {
      width,
      height: 150,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: zeroBased } },
      axes: [{ space: 90 }, { size: 64 }],
      series,
      hooks: { ready: [openClickedBatch(name)] },
    };
  }

  function histogramOptions(def, width) {
    return {
      width,
      height: 150,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: (_u, _min, max) => [0, max > 0 ? max : 1] }, y: { range: zeroBased } },
      axes: [
        { values: (_u, splits) => splits.map((v) => dec.format(v)) },
        {
          size: 40,
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
          values: (_u, splits) => splits.map((v) => int.format(v)),
        },
      ],
      series: [
        { label: def.unit, value: (_u, v) => (v == null ? '–' : dec.format(v)) },
        {
          label: 'batches',
          stroke: def.color,
          fill: def.color + '55',
          width: 1,
          paths: uPlot.paths.bars({ size: [0.95, Infinity], align: 1 }),
          points: { show: false },
        },
      ],
    };
  }

  /** Bins from 0 to the largest value: [left edges, counts], as Spark's histograms. */
  function histogram(values, bins) {
    const max = Math.max(1, ...values);
    const width = max / bins;
    const edges = [];
    const counts = [];
    for (let i = 0; i < bins; i++) {
      edges.push(i * width);
      counts.push(0);
    }
    for (const v of values) counts[Math.min(bins - 1, Math.floor(v / width))]++;
    edges.push(max);
    counts.push(null);
    return [edges, counts];
  }

  function drawChart(name, options, data) {
    const container = tid(name);
    const existing = ui.charts[name];
    if (existing) {
      const width = chartWidth(container);
      if (width !== existing.width) existing.setSize({ width, height: existing.height });
      existing.setData(data);
      return;
    }
    container.replaceChildren();
    ui.charts[name] = new uPlot(options(chartWidth(container)), data, container);
  }

  function clearChart(def, text) {
    if (tid('chart-' + def.key + '-timeline').querySelector('.empty')) return;
    for (const kind of ['timeline', 'histogram']) {
      const name = 'chart-' + def.key + '-' + kind;
      if (ui.charts[name]) {
        ui.charts[name].destroy();
        delete ui.charts[name];
      }
      tid(name).replaceChildren(el('div', { class: 'empty', text }));
    }
    setText('avg-' + def.key, '');
  }

  /** `sources.batches`: completed batches; `sources.lag`: lag samples; both newest first. */
  function renderCharts(sources, intervalMs) {
    setText('chart-caption', sources.batches.length ? 'over the last ' + sources.batches.length + ' completed batches' : '');
    for (const def of chartDefs) {
      const rows = sources[def.source || 'batches'].slice().reverse(); // oldest first
      if (rows.length === 0) {
        clearChart(def, def.empty || 'no completed batches yet');
        continue;
      }
      const ys = rows.map((b) => def.value(b, intervalMs));
      const timeline = [rows.map((b) => b.time / 1000), ys];
      if (def.interval) timeline.push(rows.map(() => intervalMs));
      const name = 'chart-' + def.key + '-timeline';
      ui.chartBatches[name] = rows.map((b) => (b.batch != null ? b.batch : b.id));
      drawChart(name, (w) => timelineOptions(def, name, w), timeline);
      drawChart('chart-' + def.key + '-histogram', (w) => histogramOptions(def, w), histogram(ys, 10));
      const mean = avg(ys);
      setText('avg-' + def.key, 'avg ' + dec.format(mean) + ' ' + def.unit);
    }
  }

  window.addEventListener('resize', () => {
    for (const [name, chart] of Object.entries(ui.charts)) {
      const width = chartWidth(tid(name));
      if (width !== chart.width) chart.setSize({ width, height: chart.height });
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Streaming overview

  function plannedRecords(ranges) {
    let total = 0n;
    for (const r of ranges || []) total += BigInt(r.until) - BigInt(r.from);
    return total;
  }

  function renderActive(active) {
    setText('active-count', active.length ? '(' + active.length + ')' : '');
    const rows = active.map((b) =>
      el('tr', { 'data-testid': 'active-batch-row', 'data-batch-id': b.id }, [
        el('td', {}, [batchLink(b.id)]),
        el('td', { text: fmtTime(b.time) }),
        el('td', { class: 'num', text: fmtBig(String(plannedRecords(b.ranges))) }),
        el('td', { class: 'num', text: fmtMs(b.schedulingDelayMs) }),
        el('td', { text: b.tasksDone + ' / ' + b.tasksTotal }),
        el('td', { text: b.tasksTotal > 0 ? 'processing' : 'planning' }),
      ])
    );
    replaceRows(tid('active-batches').tBodies[0], rows, 6, 'no active batches');
  }

  function renderCompleted(completed) {
    ui.lastPage = completed;
    setText('completed-page-label', ui.before == null ? '(newest)' : '(before batch ' + ui.before + ')');
    const rows = completed.map((b) =>
      el('tr', { 'data-testid': 'completed-batch-row', 'data-batch-id': b.id }, [
        el('td', {}, [batchLink(b.id)]),
        el('td', { text: fmtTime(b.time) }),
        el('td', { class: 'num', 'data-testid': 'batch-records', 'data-value': b.records, text: fmtInt(b.records) }),
        el('td', { class: 'num', text: fmtMs(b.schedulingDelayMs) }),
        el('td', { class: 'num', text: fmtMs(b.processingMs) }),
        el('td', { class: 'num', text: fmtMs(b.totalDelayMs) }),
        el('td', { class: 'status-committed', text: 'committed' }),
      ])
    );
    replaceRows(tid('completed-batches').tBodies[0], rows, 7, ui.before == null ? 'no completed batches yet' : 'no older batches');
    tid('page-newer').disabled = ui.before == null;
    tid('page-newest').disabled = ui.before == null;
    const last = completed[completed.length - 1];
    tid('page-older').disabled = completed.length < PAGE_SIZE || !last || Number(last.id) <= 1;
  }

  async function refreshOverview() {
    const [recent, page, lag, lagHistory] = await Promise.all([
      api('batches?limit=' + CHART_BATCHES),
      ui.before == null ? null : api('batches?limit=' + PAGE_SIZE + '&before=' + encodeURIComponent(ui.before)),
      api('lag').catch(() => null),
      api('lag/history?limit=' + CHART_BATCHES),
    ]);
    renderActive(recent.active || []);
    renderCompleted(page ? page.completed : recent.completed.slice(0, PAGE_SIZE));
    renderCharts({ batches: recent.completed, lag: lagHistory }, ui.status ? ui.status.batchIntervalMs : 0);
    setText('lag-total-card', lag ? fmtBig(lag.total) : '–');
  }

  tid('page-older').addEventListener('click', () => {
    const last = ui.lastPage[ui.lastPage.length - 1];
    if (!last) return;
    ui.newerStack.push(ui.before);
    ui.before = last.id;
    refreshSoon();
  });
  tid('page-newer').addEventListener('click', () => {
    ui.before = ui.newerStack.length ? ui.newerStack.pop() : null;
    refreshSoon();
  });
  tid('page-newest').addEventListener('click', () => {
    ui.before = null;
    ui.newerStack = [];
    refreshSoon();
  });

  // ---------------------------------------------------------------------------------------------
  // Batch page

  function renderBatchCards(values) {
    for (const [id, text] of Object.entries(values)) setText(id, text);
  }

  async function refreshBatch(id) {
    setText('batch-id', id);
    const tbody = tid('batch-ranges').tBodies[0];
    let batch;
    try {
      batch = await api('batches/' + encodeURIComponent(id));
    } catch (error) {
      if (error.status !== 404) throw error;
      const { active } = await api('batches?limit=1');
      const running = (active || []).find((b) => String(b.id) === String(id));
      if (!running) {
        renderBatchCards({ 'batch-status': 'unknown', 'batch-time': '' });
        replaceRows(tbody, [], 9, 'batch ' + id + ' is not in the driver history (' + error.message + ')');
        return;
      }
      renderBatchCards({
        'batch-status': running.tasksTotal > 0 ? 'processing (' + running.tasksDone + '/' + running.tasksTotal + ' tasks)' : 'planning',
        'batch-time': fmtTime(running.time),
        'batch-records-total': fmtBig(String(plannedRecords(running.ranges))) + ' (planned)',
        'batch-bytes': '–',
        'batch-scheduling-delay': fmtMs(running.schedulingDelayMs),
        'batch-plan-time': '–',
        'batch-processing-time': '–',
        'batch-total-delay': '–',
        'batch-epoch': ui.status ? String(ui.status.epoch) : '–',
      });
      const rows = (running.ranges || []).map((r) =>
        el('tr', { 'data-testid': 'range-row' }, [
          el('td', { 'data-testid': 'range-topic', text: r.topic }),
          el('td', { class: 'num', 'data-testid': 'range-partition', text: r.partition }),
          el('td', { class: 'num', 'data-testid': 'range-from', text: r.from }),
          el('td', { class: 'num', 'data-testid': 'range-until', text: r.until }),
          el('td', { class: 'num', text: fmtBig(String(BigInt(r.until) - BigInt(r.from))) }),
          el('td', { text: '–' }),
          el('td', { class: 'num', text: '–' }),
          el('td', { class: 'num', text: '–' }),
          el('td', { text: 'no' }),
        ])
      );
      replaceRows(tbody, rows, 9, 'no ranges');
      return;
    }
    renderBatchCards({
      'batch-status': 'committed',
      'batch-time': fmtTime(batch.time),
      'batch-records-total': fmtInt(batch.records),
      'batch-bytes': fmtBytes(batch.bytes),
      'batch-scheduling-delay': fmtMs(batch.schedulingDelayMs),
      'batch-plan-time': fmtMs(batch.planMs),
      'batch-processing-time': fmtMs(batch.processingMs),
      'batch-total-delay': fmtMs(batch.totalDelayMs),
      'batch-epoch': String(batch.epoch),
    });
    const ranges = (batch.ranges || [])
      .slice()
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const rows = ranges.map((r) =>
      el('tr', { 'data-testid': 'range-row' }, [
        el('td', { 'data-testid': 'range-topic', text: r.topic }),
        el('td', { class: 'num', 'data-testid': 'range-partition', text: r.partition }),
        el('td', { class: 'num', 'data-testid': 'range-from', text: r.from }),
        el('td', { class: 'num', 'data-testid': 'range-until', text: r.until }),
        el('td', { class: 'num', 'data-testid': 'range-records', 'data-value': r.records, text: fmtInt(r.records) }),
        el('td', { 'data-testid': 'range-executor', text: r.executor }),
        // `attempt` is 0-based (the attempt that committed): the count of attempts is one more.
        el('td', {
          class: 'num',
          'data-testid': 'range-attempts',
          title: 'committed by attempt ' + r.attempt + ' (0-based)',
          text: Number(r.attempt) + 1,
        }),
        el('td', { class: 'num', 'data-testid': 'range-duration', text: fmtMs(r.durationMs) }),
        el('td', { 'data-testid': 'range-speculative', title: describeCopies(r.copies), text: speculationLabel(r) }),
      ])
    );
    replaceRows(tbody, rows, 9, 'an empty batch: no records, no tasks');
  }

  /** 'no', or which attempt won when a speculative copy ran ('copy won' / 'original won'). */
  function speculationLabel(range) {
    if (!range.copies) return 'no';
    return range.speculative ? 'copy won' : 'original won';
  }

  function describeCopies(copies) {
    if (!copies) return '';
    return copies
      .map((c) => (c.speculative ? 'copy' : 'original') + ' on ' + c.executor + ' (attempt ' + c.attempt + '): ' + c.outcome)
      .join('; ');
  }

  // ---------------------------------------------------------------------------------------------
  // Executors and lag

  function heartbeatAgo(value) {
    if (value == null) return '–';
    const v = Number(value);
    // An absolute time (ms since the epoch) or already an age in ms.
    const age = v > 1e12 ? Date.now() - v : v;
    return fmtMs(Math.max(0, age)) + ' ago';
  }

  async function refreshExecutors() {
    const executors = await api('executors');
    const alive = executors.filter((e) => e.state === 'alive').length;
    setText(
      'executors-count',
      '(' + alive + ' alive' + (executors.length > alive ? ', ' + (executors.length - alive) + ' lost' : '') + ')'
    );
    const rows = executors.map((e) =>
      el('tr', { 'data-testid': 'executor-row', 'data-executor-id': e.id }, [
        el('td', { text: e.id }),
        el('td', { text: e.address }),
        el('td', { class: 'status-' + e.state, text: e.state }),
        el('td', { class: 'num', text: fmtInt(e.slots) }),
        el('td', { class: 'num', text: fmtInt(e.runningTasks) }),
        el('td', { class: 'num', text: fmtInt(e.finishedTasks) }),
        el('td', { class: 'num', text: fmtInt(e.failedTasks) }),
        el('td', { class: 'num', text: heartbeatAgo(e.lastHeartbeatMs) }),
      ])
    );
    replaceRows(tid('executors-table').tBodies[0], rows, 8, 'no executors registered');
    // Receiver mode only: the direct approach has none.
    const receivers = await api('receivers').catch(() => []);
    tid('receivers-section').hidden = receivers.length === 0;
    const receiverRows = receivers.map((r) =>
      el('tr', { 'data-testid': 'receiver-row', 'data-receiver-id': r.id }, [
        el('td', { text: r.id }),
        el('td', { class: 'status-' + r.state, text: r.state + (r.lastError ? ' (' + r.lastError + ')' : '') }),
        el('td', { text: r.executor || '–' }),
        el('td', { class: 'num', text: fmtInt(r.rate) }),
        el('td', { class: 'num', text: fmtInt(r.blocks) }),
        el('td', { class: 'num', text: fmtInt(r.records) }),
        el('td', { class: 'num', text: fmtInt(r.logBytes) }),
        el('td', { class: 'num', text: fmtInt(r.restarts) }),
      ])
    );
    replaceRows(tid('receivers-table').tBodies[0], receiverRows, 8, 'no receivers');
  }

  async function refreshLag() {
    const [lag, offsets] = await Promise.all([api('lag'), api('offsets').catch(() => [])]);
    setText('lag-total', fmtBig(lag.total));
    setText('lag-min', fmtBig(lag.min));
    setText('lag-avg', typeof lag.avg === 'number' ? dec.format(lag.avg) : fmtBig(lag.avg));
    setText('lag-max', fmtBig(lag.max));
    setText('lag-max-seconds', fmtSeconds(lag.maxSeconds));
    const earliest = new Map(offsets.map((o) => [o.topic + ':' + o.partition, o.earliest]));
    const partitions = (lag.partitions || [])
      .slice()
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const rows = partitions.map((p) =>
      el('tr', { 'data-testid': 'lag-row' }, [
        el('td', { text: p.topic }),
        el('td', { class: 'num', text: p.partition }),
        el('td', { class: 'num', text: earliest.get(p.topic + ':' + p.partition) ?? '–' }),
        el('td', { class: 'num', text: p.committed ?? '–' }),
        el('td', { class: 'num', text: p.latest ?? '–' }),
        el('td', { class: 'num', 'data-testid': 'lag-value', text: fmtBig(p.lag) }),
        el('td', { class: 'num', 'data-testid': 'lag-seconds', 'data-value': p.lagSeconds, text: fmtSeconds(p.lagSeconds) }),
      ])
    );
    replaceRows(tid('lag-table').tBodies[0], rows, 7, 'no partitions');
  }

  // ---------------------------------------------------------------------------------------------
  // Polling

  async function refresh() {
    const current = route();
    showPage(current.page);
    try {
      renderStatus(await api('status'));
      if (current.page === 'overview') await refreshOverview();
      else if (current.page === 'batch') await refreshBatch(current.id);
      else if (current.page === 'executors') await refreshExecutors();
      else if (current.page === 'lag') await refreshLag();
      showError(null);
      setText('last-updated', 'updated ' + fmtTime(Date.now()).slice(11));
    } catch (error) {
      showError(error);
    }
  }

  async function loop() {
    window.clearTimeout(ui.timer);
    if (ui.running) {
      ui.again = true;
      return;
    }
    ui.running = true;
    try {
      do {
        ui.again = false;
        await refresh();
      } while (ui.again);
    } finally {
      ui.running = false;
      ui.timer = window.setTimeout(loop, POLL_MS);
    }
  }

  function refreshSoon() {
    void loop();
  }

  window.addEventListener('hashchange', refreshSoon);
  refreshSoon();
})();
