import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import type Redis from 'ioredis';
import { parseDockerfile, type Instruction } from '../helpers/dockerfile';
import { brokers, redisUrl, repoRoot, uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, produceValues } from '../helpers/kafka';
import { auditCounts, redis } from '../helpers/redis';

jest.setTimeout(120_000);

/**
 * There is no Docker engine here, so the image is checked by replaying the Dockerfile's runtime stage
 * into a temporary folder standing for the image's root file system: the same COPY steps (from the
 * build context, or from the build stage, which is this repository after `npm run build`), the same
 * `npm ci --omit=dev`, the same ENV, then the ENTRYPOINT runs a job from there.
 */
const dockerfile = parseDockerfile(join(repoRoot, 'Dockerfile'));
const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** .dockerignore as Docker reads the patterns used there: a path, or `**\/name` for that name at any depth. */
function isIgnored(path: string): boolean {
  const parts = path.split('/');
  return ignored.some((pattern) =>
    pattern.startsWith('**/') ? parts.includes(pattern.slice(3)) : path === pattern || path.startsWith(`${pattern}/`)
  );
}

const stage = (name: string): NonNullable<(typeof dockerfile.stages)[number]> => {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile has no stage '${name}'`);
  return found;
};
const copySources = (instructions: Instruction[]): string[] =>
  instructions.filter((i) => i.op === 'COPY' && i.flags.from === undefined).flatMap((i) => i.args.slice(0, -1));

describe('the container image (Dockerfile replayed without Docker)', () => {
  let root: string;
  let client: Redis;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-image-'));
    client = redis();
  });
  afterAll(async () => {
    rmSync(root, { recursive: true, force: true });
    await client.quit();
  });

  it('has a build and a runtime stage on Node 22 slim, and every COPY source exists in the context and is not ignored', () => {
    expect(dockerfile.stages.map((s) => [s.name, s.base])).toEqual([
      ['build', 'node:22-bookworm-slim'],
      ['runtime', 'node:22-bookworm-slim'],
    ]);
    for (const source of [...copySources(stage('build').instructions), ...copySources(stage('runtime').instructions)]) {
      expect([source, existsSync(join(repoRoot, source)), isIgnored(source)]).toEqual([source, true, false]);
    }
    // The build stage is what `npm run build` did to this repository: install everything, then build.
    expect(
      stage('build')
        .instructions.filter((i) => i.op === 'RUN')
        .map((i) => i.rest)
    ).toEqual(['npm ci --no-audit --no-fund', 'npm run build']);
  });

  it('replays the runtime stage, runs as a numeric non-root user, and `sluice --help` names both roles', () => {
    const buildDir = stage('build').instructions.find((i) => i.op === 'WORKDIR')?.args[0] as string;
    const inImage = (path: string): string => join(root, path);
    let cwd = root;
    const env: Record<string, string> = {};
    let user = '';
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    for (const i of stage('runtime').instructions) {
      if (i.op === 'WORKDIR') {
        cwd = inImage(i.args[0] as string);
        mkdirSync(cwd, { recursive: true });
      } else if (i.op === 'COPY') {
        const sources = i.args.slice(0, -1);
        const dest = join(cwd, i.args[i.args.length - 1] as string);
        for (const source of sources) {
          const from = i.flags.from === undefined ? join(repoRoot, source) : join(repoRoot, relative(buildDir, source));
          if (i.flags.from !== undefined) expect(i.flags.from).toBe('build');
          const isDir = statSync(from).isDirectory();
          // Docker: a directory's contents go into dest; a file into dest/ (trailing slash) or onto dest.
          const target = isDir || !(i.args[i.args.length - 1] as string).endsWith('/') ? dest : join(dest, basename(source));
          const filter = (path: string): boolean => i.flags.from !== undefined || !isIgnored(relative(repoRoot, path));
          mkdirSync(isDir ? target : dirname(target), { recursive: true });
          cpSync(from, target, { recursive: true, filter });
        }
      } else if (i.op === 'RUN') {
        for (const command of i.rest.split('&&').map((c) => c.trim())) {
          const [program, ...argv] = command.split(/\s+/);
          if (program === 'npm' && argv[0] === 'ci') execFileSync('npm', argv, { cwd, stdio: 'pipe' });
          // Skipped: it only makes the image smaller, and here it would empty the developer's npm cache.
          else if (command === 'npm cache clean --force') continue;
          else if (program === 'ln' && argv[0] === '-s') {
            const link = inImage(argv[2] as string);
            mkdirSync(dirname(link), { recursive: true });
            symlinkSync(inImage(argv[1] as string), link);
          } else throw new Error(`the test does not know how to replay RUN ${command}`);
        }
      } else if (i.op === 'ENV') {
        const [key = '', value = ''] = i.rest.split('=');
        env[key] = value.startsWith('/') ? inImage(value) : value;
      } else if (i.op === 'USER') user = i.rest;
      else if (i.op === 'ENTRYPOINT') entrypoint = JSON.parse(i.rest) as string[];
      else if (i.op === 'CMD') cmd = JSON.parse(i.rest) as string[];
      else if (i.op !== 'EXPOSE') throw new Error(`the test does not know how to replay ${i.op}`);
    }
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(entrypoint).toEqual(['sluice']);
    expect(env).toEqual({ NODE_ENV: 'production', NODE_PATH: inImage('/app/node_modules') });
    // Production dependencies only: no compiler, no test runner.
    expect(existsSync(join(cwd, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(cwd, 'node_modules', 'jest'))).toBe(false);
    // The assets deploy/copy-assets.js puts beside the compiled code.
    for (const asset of [
      'packages/common/dist/checkpoint/lua',
      'packages/driver/dist/api/ui/static/uPlot.iife.min.js',
      'packages/common/dist/proto/sluice/v1/driver.proto',
    ]) {
      expect([asset, existsSync(join(cwd, asset))]).toEqual([asset, true]);
    }

    const help = spawnSync(inImage('/usr/local/bin/sluice'), cmd, { cwd, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^\s+driver \[options\]/m);
    expect(help.stdout).toMatch(/^\s+executor \[options\]/m);
    image = { sluice: inImage('/usr/local/bin/sluice'), cwd, env };
  });

  let image: { sluice: string; cwd: string; env: Record<string, string> } | undefined;
  const run = (args: string[], cwd?: string): ReturnType<typeof spawnSync> => {
    if (!image) throw new Error('the runtime stage was not replayed');
    return spawnSync(image.sluice, args, {
      cwd: cwd ?? image.cwd,
      env: { PATH: process.env.PATH, ...image.env, KAFKA_BROKERS: brokers(), REDIS_URL: redisUrl(), LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  };

  it('runs the example job from the image exactly once (`sluice run --job /app/examples/audit`)', async () => {
    const topic = uniqueName('image');
    await createTopic(topic, 2);
    const values = Array.from({ length: 2000 }, (_, i) => `v${i}`);
    await produceValues(topic, values, 2);
    // The chart's default job path, /app/examples/audit, inside the replayed root.
    const result = run([
      'run',
      '--job',
      join(image?.cwd ?? '', 'examples', 'audit'),
      '--topics',
      topic,
      '--name',
      topic,
      '--executors',
      '1',
      '--until',
      'latest',
      '--http-port',
      '0',
    ]);
    expect([result.status, result.stderr]).toEqual([0, expect.any(String)]);
    assertExactlyOnce(await auditCounts(client, topic), values);
  });

  it('loads a job by package name from any working directory, and a mounted job file that requires @sluice/common', () => {
    const missing = uniqueName('image-missing');
    const notFound = `sluice: [SLUICE_TOPIC_NOT_FOUND] topic(s) not found in Kafka: ${missing}`;
    // The job loaded: what stops the driver is the topic, which is checked after loading the job.
    const byName = run(['driver', '--job', '@sluice/example-audit', '--topics', missing], tmpdir());
    expect([byName.status, String(byName.stderr).trim().split('\n').pop()]).toEqual([1, notFound]);

    // A ConfigMap mounted at some path holds a CommonJS job that requires @sluice/common (NODE_PATH).
    const mounted = mkdtempSync(join(tmpdir(), 'sluice-job-'));
    writeFileSync(join(mounted, 'job.js'), readFileSync(join(repoRoot, 'examples', 'audit', 'job.js')));
    try {
      const byPath = run(['driver', '--job', join(mounted, 'job.js'), '--topics', missing]);
      expect([byPath.status, String(byPath.stderr).trim().split('\n').pop()]).toEqual([1, notFound]);
    } finally {
      rmSync(mounted, { recursive: true, force: true });
    }
  });
});
