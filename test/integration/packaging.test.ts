/**
 * sluice as a user gets it: the four packages packed by `npm pack`, installed from those tarballs
 * (dependencies from the npm cache or registry) into a project that `sluice init` made outside this
 * repository, and its job run with `npx sluice`; and a job file with no sluice install of its own,
 * run through that installed CLI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parse } from 'acorn';
import type Redis from 'ioredis';
import { brokers, redisUrl, repoRoot, uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { endOffsets, recordTestTopic } from '../helpers/kafka';
import { auditCounts, checkpoint, redis } from '../helpers/redis';

jest.setTimeout(120_000);

const packageNames = ['common', 'driver', 'executor', 'cli'];
interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  engines: { node: string };
  dependencies: Record<string, string>;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
interface Tarball {
  name: string;
  filename: string;
  files: { path: string; mode: number }[];
}
const version = manifest(join(repoRoot, 'packages', 'common')).version;

/**
 * The environment of a user's shell: this test's Node first on PATH (so `npx` and the `sluice` bin run
 * on it), and none of the npm_* variables an enclosing `npm test` sets (they would point npm here).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
  return {
    ...env,
    PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
    KAFKA_BROKERS: brokers(),
    REDIS_URL: redisUrl(),
    LOG_LEVEL: 'warn',
  };
}

/** Runs a command as a user would; fails with its output unless it exits 0. */
function sh(command: string, args: string[], cwd: string): { stdout: string; ms: number } {
  const t0 = Date.now();
  const result = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr.slice(-4000)}`
    );
  }
  return { stdout: result.stdout, ms: Date.now() - t0 };
}

/** Every package a compiled file requires or imports by a literal name (acorn walk over the AST). */
function requiredPackages(source: string): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) return node.forEach(visit);
    const n = node as {
      type?: string;
      callee?: { type: string; name?: string };
      arguments?: { type: string; value?: unknown }[];
      source?: { type: string; value?: unknown };
    };
    const literal =
      n.type === 'CallExpression' && n.callee?.type === 'Identifier' && n.callee.name === 'require'
        ? n.arguments?.[0]
        : n.type === 'ImportExpression'
          ? n.source
          : undefined;
    if (literal?.type === 'Literal' && typeof literal.value === 'string' && !literal.value.startsWith('.') && !isBuiltin(literal.value)) {
      const parts = literal.value.split('/');
      found.add(literal.value.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
    }
    Object.values(node).forEach(visit);
  };
  visit(parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true }));
  return [...found];
}

describe('the packed packages, installed into a project outside the repository', () => {
  let work: string;
  let packs: string;
  /** What `npm pack --json` reports of each tarball. */
  let tarballs: Tarball[];
  let client: Redis;
  /** The project `sluice init` made, once the tarballs are installed in it. */
  let installed: string | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'sluice-packaging-'));
    packs = join(work, 'packs');
    mkdirSync(packs);
    const workspaces = packageNames.flatMap((name) => ['-w', `packages/${name}`]);
    tarballs = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', packs, ...workspaces], repoRoot).stdout) as Tarball[];
    client = redis();
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await client.quit();
  });

  it('each tarball holds what its package loads at run time and declares every package its code requires', () => {
    expect(tarballs.map((t) => t.filename)).toEqual(packageNames.map((name) => `sluice-${name}-${version}.tgz`));
    const files = Object.fromEntries(tarballs.map((t) => [t.name, new Map(t.files.map((f) => [f.path, f.mode]))]));
    const luaSources = join(repoRoot, 'packages', 'common', 'src', 'checkpoint', 'lua');
    const lua = readdirSync(luaSources, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.lua'));
    expect(lua).toEqual(expect.arrayContaining([expect.stringMatching(/^commit-batch-\d+\.lua$/), 'includes/sink-writes.lua']));
    const needed: Record<string, string[]> = {
      '@sluice/common': [
        'dist/index.js',
        'dist/index.d.ts',
        'dist/proto/sluice/v1/driver.proto',
        'dist/proto/sluice/v1/executor.proto',
        ...lua.map((f) => `dist/checkpoint/lua/${f}`),
      ],
      '@sluice/driver': [
        'dist/index.js',
        'dist/api/ui/static/index.html',
        'dist/api/ui/static/app.js',
        'dist/api/ui/static/uPlot.iife.min.js',
        'dist/api/ui/static/uPlot.LICENSE.txt',
      ],
      '@sluice/executor': ['dist/index.js'],
      '@sluice/cli': ['dist/main.js', 'dist/init.js', 'dist/jobs/load.js'],
    };
    for (const [name, paths] of Object.entries(needed)) {
      const packed = files[name] as Map<string, number>;
      expect([name, [...paths, 'LICENSE', 'package.json'].filter((path) => !packed.has(path))]).toEqual([name, []]);
      expect([name, [...packed.keys()].filter((path) => /__tests__|tsbuildinfo/.test(path))]).toEqual([name, []]);
    }
    expect((files['@sluice/cli']?.get('dist/main.js') ?? 0) & 0o111).toBe(0o111);

    const unpacked = join(work, 'unpacked');
    for (const tarball of tarballs) {
      const dir = join(unpacked, tarball.name);
      mkdirSync(dir, { recursive: true });
      sh('tar', ['-xzf', join(packs, tarball.filename), '-C', dir, '--strip-components=1'], work);
      const pkg = manifest(dir);
      expect([pkg.name, pkg.private, pkg.license, pkg.engines]).toEqual([
        tarball.name,
        undefined,
        'Apache-2.0',
        manifest(repoRoot).engines,
      ]);
      const undeclared = tarball.files
        .filter((f) => f.path.endsWith('.js'))
        .flatMap((f) => requiredPackages(readFileSync(join(dir, f.path), 'utf8')).map((dep) => ({ file: f.path, dep })))
        .filter(({ dep }) => !(dep in pkg.dependencies))
        .map(({ file, dep }) => `${file} requires ${dep}`);
      expect([tarball.name, undeclared]).toEqual([tarball.name, []]);
    }
  });

  it('`sluice init` makes a project that installs from the tarballs and whose job runs exactly once with `npx sluice`', async () => {
    const name = uniqueName('packaging');
    const project = join(work, name);
    sh(process.execPath, [join(repoRoot, 'packages', 'cli', 'dist', 'main.js'), 'init', project, '--topic', name], work);
    const install = sh(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs.map((t) => join(packs, t.filename))],
      project
    );
    process.stderr.write(`packaging.test: npm install of the tarballs took ${install.ms} ms\n`);
    expect(existsSync(join(project, 'node_modules', '.bin', 'sluice'))).toBe(true);

    recordTestTopic(name);
    sh('node', ['produce-sample.js', name, '3000'], project);
    // The job as `sluice init` wrote it: topic and name are in my-job.js.
    sh('npx', ['sluice', 'run', '--job', './my-job.js', '--executors', '2', '--until', 'latest', '--http-port', '0'], project);

    assertExactlyOnce(
      await auditCounts(client, name, 'counts'),
      Array.from({ length: 3000 }, (_, i) => `record-${i}`)
    );
    expect(await checkpoint(client, name)).toEqual(await endOffsets(name));
    installed = project;
  });

  it('a job file with no sluice of its own, ES module or CommonJS, loads through the installed CLI', () => {
    if (!installed) throw new Error('the project was not installed');
    // Nothing above the job's folder provides @sluice/common: only the CLI's own installation can.
    const lone = join(work, 'lone');
    mkdirSync(lone);
    for (let dir = lone; dir !== dirname(dir); dir = dirname(dir))
      expect([dir, existsSync(join(dir, 'node_modules'))]).toEqual([dir, false]);
    const body = `defineJob({ name: 'lone', source: { topics: ['lone'] }, process: (records) => records.map((r) => String(r.value)), sink: redisCounterSink({ key: 'counts' }) })`;
    writeFileSync(join(lone, 'job.mjs'), `import { defineJob, redisCounterSink } from '@sluice/common';\nexport default ${body};\n`);
    writeFileSync(join(lone, 'job.cjs'), `const { defineJob, redisCounterSink } = require('@sluice/common');\nmodule.exports = ${body};\n`);

    const missing = uniqueName('packaging-missing');
    for (const job of ['job.mjs', 'job.cjs']) {
      // The job loaded and validated: what stops the driver is the topic, checked after loading the job.
      const driver = spawnSync(
        join(installed, 'node_modules', '.bin', 'sluice'),
        ['driver', '--job', join(lone, job), '--topics', missing],
        {
          cwd: lone,
          env: userEnv(),
          encoding: 'utf8',
          timeout: 30_000,
        }
      );
      expect([job, driver.status, driver.stderr.trim().split('\n').pop()]).toEqual([
        job,
        1,
        `sluice: [SLUICE_TOPIC_NOT_FOUND] topic(s) not found in Kafka: ${missing}`,
      ]);
    }
  });
});
