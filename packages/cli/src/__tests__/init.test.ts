import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCommand } from '../init';

describe('sluice init', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-init-'));
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    jest.restoreAllMocks();
  });

  it('writes a project depending on this version of sluice, whose job is named after the folder', () => {
    const dir = join(root, 'clicks');
    initCommand(dir, { topic: 'page-views' });
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'README.md', 'my-job.js', 'package.json', 'produce-sample.js']);
    const own = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
      engines: unknown;
      dependencies: Record<string, string>;
    };
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({
      name: 'clicks',
      type: 'module',
      engines: own.engines,
      dependencies: { '@sluice/cli': `^${own.version}`, '@sluice/common': `^${own.version}`, kafkajs: own.dependencies['kafkajs'] },
    });
    const job = readFileSync(join(dir, 'my-job.js'), 'utf8');
    expect(job).toContain(`import { defineJob, redisCounterSink } from '@sluice/common';`);
    expect(job).toContain(`name: 'clicks',\n  source: { topics: ['page-views'], startingOffsets: 'earliest' },`);
  });

  it('refuses a folder that is not empty, and writes nothing into it', () => {
    const dir = join(root, 'taken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(() => initCommand(dir, {})).toThrow(
      `[SLUICE_CONFIG_INVALID] ${dir} is not empty (notes.txt): sluice init writes into a new or empty folder`
    );
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('refuses a name that cannot be both a job and an npm package name, or a bad topic, and creates no folder', () => {
    expect(() => initCommand(join(root, 'MyJob'), {})).toThrow(
      "[SLUICE_CONFIG_INVALID] job name 'MyJob' (the folder's name; --name sets another): a job name here is lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (it also names the npm package)"
    );
    expect(() => initCommand(join(root, 'ok'), { name: 'no spaces' })).toThrow(/^\[SLUICE_CONFIG_INVALID\] --name 'no spaces': /);
    expect(() => initCommand(join(root, 'ok'), { topic: 'a/b' })).toThrow(
      "[SLUICE_CONFIG_INVALID] --topic 'a/b': a Kafka topic name is 1 to 249 of letters, digits, '.', '_' and '-'"
    );
    expect([existsSync(join(root, 'MyJob')), existsSync(join(root, 'ok'))]).toEqual([false, false]);
  });
});
