// Post-build steps tsc does not do: copy the Lua scripts next to the compiled checkpoint store,
// and make the CLI entry point executable.
const { cpSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..', 'packages', 'common');
cpSync(join(root, 'src', 'checkpoint', 'lua'), join(root, 'dist', 'checkpoint', 'lua'), { recursive: true });
// npm links the `sluice` bin before the first build, so the built entry point needs its own exec bit.
require('node:fs').chmodSync(join(__dirname, '..', 'packages', 'cli', 'dist', 'main.js'), 0o755);
