import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './env';

/** promtool, built from the Go module proxy on first use (deploy/helm/install-promtool.sh; cached in .cache/promtool). */
export function promtoolBinary(): string {
  const out = execFileSync('bash', [join(repoRoot, 'deploy', 'helm', 'install-promtool.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop() as string;
}

/** Runs promtool; its exit status and output, for assertions that show what it said. */
export function promtool(binary: string, args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(binary, args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}
