import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const repoRoot = join(__dirname, '..', '..', '..', '..', '..');
const committed = join(__dirname, '..', 'generated');

/** Every file under `dir`, by its path relative to `dir`, with its text. */
function readTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path)] = readFileSync(path, 'utf8');
  }
  return files;
}

describe('gRPC types generated from proto/', () => {
  it('are up to date (else run `npm run gen:proto` and commit the result)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sluice-proto-'));
    try {
      const run = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'gen-proto.js'), fresh], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(readTree(committed)).toEqual(readTree(fresh));
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
