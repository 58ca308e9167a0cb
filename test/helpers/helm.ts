/* eslint-disable @typescript-eslint/no-explicit-any --
   Rendered manifests are untyped YAML: the assertions check their shape. */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
  type?: string;
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

const templateArgs = (valueFiles: string[], extra: string[]): string[] => [
  'template',
  'sluice-test',
  chartDir,
  ...valueFiles.flatMap((f) => ['-f', join(chartDir, f)]),
  ...extra,
];

/** `helm template` of the chart with value files (paths under ci/) and extra args; fails with Helm's error. */
export function render(binary: string, valueFiles: string[], extra: string[] = []): K8sObject[] {
  const r = helm(binary, templateArgs(valueFiles, extra));
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseManifests(r.stdout);
}

/** API discovery of the stand-in Kubernetes API: the one resource `lookup` asks for. */
const secretsResource = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [{ name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['get'] }],
};

/**
 * `helm template --dry-run=server` against a stand-in Kubernetes API in namespace `default` that holds
 * `secrets`: the chart's `lookup` calls see them, as they do during `helm upgrade` of a release.
 */
export async function renderWithSecrets(binary: string, secrets: K8sObject[], extra: string[] = []): Promise<K8sObject[]> {
  const api = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://api').pathname;
    const found =
      path === '/api/v1' ? secretsResource : secrets.find((s) => path === `/api/v1/namespaces/default/secrets/${s.metadata.name}`);
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(found ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-helm-api-'));
  try {
    const { port } = api.address() as { port: number };
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'stand-in', cluster: { server: `http://127.0.0.1:${port}` } }],
        contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', namespace: 'default' } }],
        'current-context': 'stand-in',
        users: [{ name: 'nobody', user: {} }],
      })
    );
    // Asynchronous: the stand-in API answers from this process's event loop.
    const { stdout } = await promisify(execFile)(binary, [...templateArgs([], extra), '--dry-run=server', '--kubeconfig', kubeconfig], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: dir },
    });
    return parseManifests(stdout);
  } finally {
    api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseManifests(stdout: string): K8sObject[] {
  return parseAllDocuments(stdout)
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
