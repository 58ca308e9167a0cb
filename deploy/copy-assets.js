// Post-build steps tsc does not do: put beside the compiled code what the packages load at run time,
// so that each package (here, in the image, or packed by `npm pack`) carries it:
// - common: the Lua scripts of the checkpoint store, the Postgres sink's tables (SQL), and proto/ (the gRPC
//   contract, kept at the repo root);
// - driver: the web UI (static files plus the charting library, uPlot, so the UI needs no CDN);
// - cli: the load job `sluice load --run` starts (examples/load), and the entry point's exec bit;
// - every package: the LICENSE, which npm packs only from the package's own folder.
const { chmodSync, cpSync, mkdirSync, rmSync } = require('node:fs');
const { dirname, join } = require('node:path');
const repo = join(__dirname, '..');
const packages = join(repo, 'packages');
const common = join(packages, 'common');
// Replaced whole: every file there is loaded as a script, so one renamed or removed in src must go.
const lua = join(common, 'dist', 'checkpoint', 'lua');
rmSync(lua, { recursive: true, force: true });
cpSync(join(common, 'src', 'checkpoint', 'lua'), lua, { recursive: true });
cpSync(join(repo, 'proto'), join(common, 'dist', 'proto'), { recursive: true });
cpSync(join(common, 'src', 'sinks', 'sql'), join(common, 'dist', 'sinks', 'sql'), { recursive: true });

const ui = join(packages, 'driver', 'dist', 'api', 'ui', 'static');
mkdirSync(ui, { recursive: true });
cpSync(join(packages, 'driver', 'src', 'api', 'ui', 'static'), ui, { recursive: true });
const uplot = join(dirname(require.resolve('uplot/package.json')), 'dist');
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) cpSync(join(uplot, file), join(ui, file));
cpSync(join(uplot, '..', 'LICENSE'), join(ui, 'uPlot.LICENSE.txt')); // MIT: ships with the copy

const cli = join(packages, 'cli');
cpSync(join(repo, 'examples', 'load', 'job.js'), join(cli, 'dist', 'jobs', 'load.js'));
// npm links the `sluice` bin before the first build, so the built entry point needs its own exec bit.
chmodSync(join(cli, 'dist', 'main.js'), 0o755);

for (const name of ['common', 'driver', 'executor', 'cli']) cpSync(join(repo, 'LICENSE'), join(packages, name, 'LICENSE'));
