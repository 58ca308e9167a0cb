// Runs a k6 script under node with stubbed k6 modules: `node run.mjs <script> <plan.json>`.
// The plan gives __ENV, API responses, and which exported functions to call; prints what happened.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./hooks.mjs', import.meta.url);
const plan = JSON.parse(readFileSync(process.argv[3], 'utf8'));
globalThis.__ENV = plan.env;
globalThis.__VU = 1;
const { state } = await import('./state.mjs');
state.responses = plan.responses ?? {};
const script = await import(pathToFileURL(process.argv[2]).href);
const data = script.setup ? script.setup() : undefined;
for (const call of plan.calls) {
  state.iterationInTest = call.iterationInTest ?? 0;
  script[call.fn](data);
}
const summary = script.handleSummary
  ? script.handleSummary({
      setup_data: data,
      metrics: { sluice_load_ids: { values: { count: (state.metrics.sluice_load_ids ?? []).reduce((a, b) => a + b, 0) } } },
    })
  : null;
process.stdout.write(JSON.stringify({ options: script.options, data, state, summary }));
