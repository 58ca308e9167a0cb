/* eslint-disable @typescript-eslint/no-explicit-any --
   Rendered manifests are untyped YAML: the assertions check their shape. */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './env';

export const chartDir = join(repoRoot, 'deploy', 'helm', 'sluice');

/** The Helm CLI, built from the Go module proxy on first use (deploy/helm/install-helm.sh; cached in .cache/helm). */
export function helmBinary(): string {
  const out = execFileSync('bash', [join(repoRoot, 'deploy', 'helm', 'install-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop() as string;
}

/** A rendered Kubernetes object: what the assertions read of it. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: any;
};

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function helm(binary: string, args: string[]): HelmResult {
  const r = spawnSync(binary, args, { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` of the chart with value files (paths under ci/) and extra args; fails with Helm's error. */
export function render(binary: string, valueFiles: string[], extra: string[] = []): K8sObject[] {
  const r = helm(binary, ['template', 'sluice-test', chartDir, ...valueFiles.flatMap((f) => ['-f', join(chartDir, f)]), ...extra]);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`invalid YAML rendered: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} rendered; have ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
