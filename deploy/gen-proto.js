// @ts-check
// Generates the TypeScript types of proto/sluice/v1 into packages/common/src/grpc/generated (or the
// folder given as argument). The options match loadServices' (packages/common/src/grpc/proto.ts):
// field names as written, int64 as strings, enums as their names, defaults filled in.
const { spawnSync } = require('node:child_process');
const { rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const outDir = process.argv[2] ?? join(root, 'packages', 'common', 'src', 'grpc', 'generated');
rmSync(outDir, { recursive: true, force: true });
const generator = join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
const options = [
  '--keepCase',
  '--longs=String',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--grpcLib=@grpc/grpc-js',
  '--includeComments',
];
const files = ['sluice/v1/driver.proto', 'sluice/v1/executor.proto'];
const run = spawnSync(generator, [...options, '-I', 'proto', '-O', outDir, ...files], { cwd: root, encoding: 'utf8' });
if (run.status !== 0) {
  process.stderr.write(run.stderr || run.stdout || String(run.error));
  process.exit(1);
}
