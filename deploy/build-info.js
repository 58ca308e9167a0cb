// Post-build step: records the source revision `sluice_build_info` reports, in
// packages/common/dist/build-info.json: SLUICE_REVISION (the image build passes it, as the build
// context holds no .git), else the checkout's HEAD, else unknown ('').
const { spawnSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const git = process.env.SLUICE_REVISION ? null : spawnSync('git', ['rev-parse', 'HEAD'], { cwd: __dirname, encoding: 'utf8' });
const revision = process.env.SLUICE_REVISION || (git && git.status === 0 ? git.stdout.trim() : '');
writeFileSync(join(__dirname, '..', 'packages', 'common', 'dist', 'build-info.json'), JSON.stringify({ revision }) + '\n');
