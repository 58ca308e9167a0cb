import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** What `sluice_build_info` says about the running process. */
export interface BuildInfo {
  /** sluice's version (the packages share one). */
  version: string;
  /** The source revision the build was made from; '' when unknown (see deploy/copy-assets.js). */
  revision: string;
  nodeVersion: string;
}

let cached: BuildInfo | undefined;

/** Read once: the package's version, and the revision the build wrote next to the compiled code. */
export function buildInfo(): BuildInfo {
  cached ??= {
    version: (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version,
    revision: readRevision(),
    nodeVersion: process.versions.node,
  };
  return cached;
}

function readRevision(): string {
  try {
    const { revision } = JSON.parse(readFileSync(join(__dirname, 'build-info.json'), 'utf8')) as { revision?: unknown };
    return typeof revision === 'string' ? revision : '';
  } catch {
    // Not built (tests on the sources), or built without a known revision.
    return '';
  }
}

/**
 * A process's own Prometheus registry: prom-client's default process metrics, and
 * `sluice_build_info{role, version, revision, node_version} 1`. Every metric a role adds to it has
 * a name the other role does not export, so a query over both never mixes two meanings.
 */
export function createProcessRegistry(role: 'driver' | 'executor'): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = buildInfo();
  new Gauge({
    name: 'sluice_build_info',
    help: 'Always 1; the labels say which sluice build runs in this process, and its role',
    labelNames: ['role', 'version', 'revision', 'node_version'],
    registers: [registry],
  }).set({ role, version: info.version, revision: info.revision, node_version: info.nodeVersion }, 1);
  return registry;
}
