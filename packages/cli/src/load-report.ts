/**
 * The pure half of `sluice load`: record values, the tally of ids, latency percentiles from the
 * load job's histogram, and the report (table or JSON). No I/O here, so it is unit-tested.
 */

/** Keys the load job (examples/load) writes per run, as sink key names inside the job's namespace. */
export function runKeys(run: string): { ids: string; latency: string; commits: string } {
  return { ids: `load:${run}:ids`, latency: `load:${run}:latency`, commits: `load:${run}:commits` };
}

/**
 * One record's value: `{"id":"<run>:<seq>","ts":<ms>,"pad":"xx…"}`, padded to `size` bytes (a
 * size below the unpadded length gives the unpadded value).
 */
export function recordValue(run: string, seq: number, ts: number, size: number): string {
  const bare = `{"id":"${run}:${seq}","ts":${ts}}`;
  const padLength = size - bare.length - ',"pad":""'.length;
  return padLength <= 0 ? bare : `{"id":"${run}:${seq}","ts":${ts},"pad":"${'x'.repeat(padLength)}"}`;
}

export interface Tally {
  /** Distinct ids committed (of those expected). */
  committed: number;
  /** Expected ids with no count. */
  missing: number;
  /** Ids counted more than once, and the extra deliveries over all of them. */
  duplicates: number;
  extraDeliveries: number;
  /** Fields that are not an expected sequence number (another producer's ids under the same run). */
  unexpected: number;
  missingIds: number[];
  duplicateIds: number[];
}

/**
 * Counts of ids `0 .. expected-1` from the fields of the run's `ids` hash (seq -> count). `skip`
 * holds sequence numbers whose produce request failed: they may or may not be in Kafka, so they are
 * neither expected nor unexpected. Keeps at most `keep` example ids of each kind.
 */
export function tallyIds(counts: Iterable<[string, number]>, expected: number, skip: ReadonlySet<number> = new Set(), keep = 20): Tally {
  const seen = new Uint32Array(expected);
  let unexpected = 0;
  for (const [field, count] of counts) {
    const seq = Number(field);
    if (Number.isInteger(seq) && seq >= 0 && seq < expected && String(seq) === field) seen[seq] = count;
    else unexpected++;
  }
  const t: Tally = { committed: 0, missing: 0, duplicates: 0, extraDeliveries: 0, unexpected, missingIds: [], duplicateIds: [] };
  for (let seq = 0; seq < expected; seq++) {
    const count = seen[seq] as number;
    if (count > 1) {
      t.duplicates++;
      t.extraDeliveries += count - 1;
      if (t.duplicateIds.length < keep) t.duplicateIds.push(seq);
    }
    if (count > 0) t.committed++;
    else if (!skip.has(seq)) {
      t.missing++;
      if (t.missingIds.length < keep) t.missingIds.push(seq);
    }
  }
  return t;
}

export interface Latency {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of a histogram (bucket in ms -> count); null when it is empty. */
export function percentiles(histogram: Iterable<[string, number]>): Latency | null {
  const buckets = [...histogram].map(([ms, n]) => [Number(ms), n] as const).sort((a, b) => a[0] - b[0]);
  const samples = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (samples === 0) return null;
  const at = (p: number): number => {
    const rank = Math.max(1, Math.ceil((p / 100) * samples));
    let seen = 0;
    for (const [ms, n] of buckets) {
      seen += n;
      if (seen >= rank) return ms;
    }
    return (buckets[buckets.length - 1] as readonly [number, number])[0];
  };
  return { samples, p50: at(50), p90: at(90), p99: at(99), max: (buckets[buckets.length - 1] as readonly [number, number])[0] };
}

export interface LoadReport {
  run: string;
  job: string;
  topic: string;
  partitions: number | null;
  /** Records acknowledged by Kafka (the ids expected once each). */
  produced: number;
  produceErrors: number;
  targetRate: number | null;
  achievedRate: number | null;
  producedSeconds: number | null;
  valueBytes: number | null;
  /** Whether the job's checkpoint reached every produced offset before the timeout. */
  drained: boolean | null;
  /** Last record produced to last record committed. */
  drainMs: number | null;
  /** Records committed / (last commit - first record produced). */
  throughput: number | null;
  latencyMs: Latency | null;
  committed: number;
  duplicates: number;
  extraDeliveries: number;
  missing: number;
  unexpected: number;
  missingIds: string[];
  duplicateIds: string[];
  ok: boolean;
}

const num = (x: number | null, digits = 0): string =>
  x === null || !Number.isFinite(x) ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The report as a two-column table for people. */
export function formatReport(r: LoadReport): string {
  const lat = r.latencyMs;
  const rows: Array<[string, string]> = [
    ['run', r.run],
    ['job', `${r.job} (Redis keys sluice:{${r.job}}:out:load:${r.run}:*)`],
    ['topic', r.partitions === null ? r.topic : `${r.topic} (${r.partitions} partitions)`],
    [
      'produced',
      r.producedSeconds === null
        ? `${num(r.produced)} records (expected)`
        : `${num(r.produced)} records in ${num(r.producedSeconds, 2)} s, ${num(r.valueBytes)} bytes each` +
          (r.produceErrors > 0 ? `; ${num(r.produceErrors)} failed to produce` : ''),
    ],
    ['rate', r.targetRate === null ? 'n/a' : `${num(r.achievedRate, 1)} records/s achieved (target ${num(r.targetRate)})`],
    ['job throughput', r.throughput === null ? 'n/a' : `${num(r.throughput, 1)} records/s (first produced to last committed)`],
    [
      'drain',
      r.drained === null ? 'n/a' : r.drained ? `${num(r.drainMs)} ms (last produced to last committed)` : 'NOT drained before the timeout',
    ],
    [
      'latency',
      lat === null
        ? 'n/a (nothing committed)'
        : `p50 ${num(lat.p50)} ms, p90 ${num(lat.p90)} ms, p99 ${num(lat.p99)} ms, max ${num(lat.max)} ms (${num(lat.samples)} records, production to commit)`,
    ],
    ['committed', `${num(r.committed)} distinct ids of ${num(r.produced)}`],
    [
      'duplicates',
      r.duplicates === 0
        ? '0'
        : `${num(r.duplicates)} ids (${num(r.extraDeliveries)} extra): ${r.duplicateIds.join(', ')}${r.duplicates > r.duplicateIds.length ? ', …' : ''}`,
    ],
    ['missing', r.missing === 0 ? '0' : `${num(r.missing)} ids: ${r.missingIds.join(', ')}${r.missing > r.missingIds.length ? ', …' : ''}`],
  ];
  if (r.unexpected > 0) rows.push(['unexpected', `${num(r.unexpected)} ids not produced by this run (or beyond --expected)`]);
  rows.push(['result', r.ok ? 'OK: every record committed exactly once' : 'FAILED']);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
