// Post-build steps tsc does not do: copy the Lua scripts next to the compiled checkpoint store,
// copy the driver's web UI (static files plus the charting library, uPlot, so the UI needs no CDN)
// next to the compiled UI handler, and make the CLI entry point executable.
const { cpSync, mkdirSync, rmSync } = require('node:fs');
const { dirname, join } = require('node:path');
const packages = join(__dirname, '..', 'packages');
const root = join(packages, 'common');
// Replaced whole: every file there is loaded as a script, so one renamed or removed in src must go.
const lua = join(root, 'dist', 'checkpoint', 'lua');
rmSync(lua, { recursive: true, force: true });
cpSync(join(root, 'src', 'checkpoint', 'lua'), lua, { recursive: true });

const ui = join(packages, 'driver', 'dist', 'ui', 'static');
mkdirSync(ui, { recursive: true });
cpSync(join(packages, 'driver', 'src', 'ui', 'static'), ui, { recursive: true });
const uplot = join(dirname(require.resolve('uplot/package.json')), 'dist');
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) cpSync(join(uplot, file), join(ui, file));
cpSync(join(uplot, '..', 'LICENSE'), join(ui, 'uPlot.LICENSE.txt')); // MIT: ships with the copy

// npm links the `sluice` bin before the first build, so the built entry point needs its own exec bit.
require('node:fs').chmodSync(join(packages, 'cli', 'dist', 'main.js'), 0o755);
