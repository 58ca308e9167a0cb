import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { repoRoot } from '../helpers/env';
import { provisionTestPrograms } from '../helpers/global-setup';

/**
 * deploy/local/test-deps.sh, which the tests' global setup runs so that `npm test` provisions the
 * programs it needs on a fresh machine. The machine's packages are shared and must stay, so the
 * script runs with a PATH of its own from which chromium and kcat are missing, and with an apt-get
 * and a sudo that record their calls; the apt-get "installs" a package by putting a program of that
 * name on that PATH. The script and the Go tool builders run from a copy of their directories
 * whose .cache holds stand-in Helm and promtool binaries, and everything is readable by `nobody` for the sudo case.
 */
const fake = (body: string): string => `#!/bin/bash\n${body}\n`;
const fakeAptGet = fake(`echo "apt-get $* (DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-})" >>"$FAKE_LOG"
if [[ "$1" == install && "\${FAKE_APT_PROVIDES:-yes}" == yes ]]; then
  for arg in "\${@:2}"; do
    [[ "$arg" == -* ]] || { printf '#!/bin/sh\\n' >"\${0%/*}/$arg"; /bin/chmod 755 "\${0%/*}/$arg"; }
  done
fi`);
const fakeSudo = fake(`echo "sudo $*" >>"$FAKE_LOG"; exec "$@"`);

const hidden = ['chromium', 'kcat'];
let dir: string;
let bin: string;
let script: string;
let log: string;

const writeExecutable = (path: string, text: string): void => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-test-deps-'));
  chmodSync(dir, 0o755);
  const copy = join(dir, 'repo');
  for (const file of [
    'deploy/local/test-deps.sh',
    'deploy/helm/go-tool.sh',
    'deploy/helm/install-helm.sh',
    'deploy/helm/install-promtool.sh',
  ]) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    copyFileSync(join(repoRoot, file), join(copy, file));
  }
  script = join(copy, 'deploy', 'local', 'test-deps.sh');
  writeExecutable(join(copy, '.cache', 'helm', 'v-test', 'helm'), fake('exit 0'));
  writeExecutable(join(copy, '.cache', 'promtool', 'v-test', 'promtool'), fake('exit 0'));
  // PATH: every program of the real one but `hidden` and the two stand-ins; writable, for apt-get.
  bin = join(dir, 'bin');
  mkdirSync(bin);
  chmodSync(bin, 0o777);
  for (const d of (process.env.PATH as string).split(delimiter)) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      if (![...hidden, 'apt-get', 'sudo'].includes(name) && !existsSync(join(bin, name))) symlinkSync(join(d, name), join(bin, name));
    }
  }
  log = join(dir, 'calls.log');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  for (const name of hidden) rmSync(join(bin, name), { force: true });
  writeExecutable(join(bin, 'apt-get'), fakeAptGet);
  writeExecutable(join(bin, 'sudo'), fakeSudo);
  writeFileSync(log, '');
  chmodSync(log, 0o666);
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the script as this user, or with `asUser: 'nobody'` as an unprivileged one (setpriv, when root). */
function run(args: string[], options: { env?: Record<string, string>; asUser?: 'nobody' } = {}): Run {
  const command = ['/bin/bash', script, ...args];
  if (options.asUser && process.getuid?.() === 0) command.unshift('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups');
  const r = spawnSync(command[0] as string, command.slice(1), {
    encoding: 'utf8',
    env: { PATH: bin, HOME: dir, HELM_VERSION: 'v-test', PROMTOOL_VERSION: 'v-test', FAKE_LOG: log, ...options.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The calls the stand-in `program` (apt-get, sudo) recorded. */
const calls = (program: string): string[] =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${program} `));

const aptGetInstall = (packages: string): string[] => [
  'apt-get update -q (DEBIAN_FRONTEND=noninteractive)',
  `apt-get install -y -q --no-install-recommends ${packages} (DEBIAN_FRONTEND=noninteractive)`,
];

describe('deploy/local/test-deps.sh', () => {
  it("the tests' global setup installs a missing chromium and kcat before any test runs", () => {
    provisionTestPrograms({ env: { PATH: bin, HOME: dir, FAKE_LOG: log }, stdio: 'pipe' });
    expect(calls('apt-get')).toEqual(aptGetInstall('kcat chromium'));
    expect(hidden.map((name) => existsSync(join(bin, name)))).toEqual([true, true]);
  });

  it('--check lists what is missing and how it would be installed, installs nothing, exits 1', () => {
    const r = run(['--check']);
    expect([r.status, r.stdout.split('\n')]).toEqual([
      1,
      [
        'ok       redis-server',
        'missing  kcat (apt-get install kcat): the third-party Kafka client the tests check against (gaps, compression, fault tests)',
        'ok       openssl',
        'ok       /usr/lib/postgresql/*/bin/initdb',
        'missing  chromium (apt-get install chromium): the web UI test (headless browser)',
        `ok       helm (${dir}/repo/.cache/helm/v-test/helm)`,
        `ok       promtool (${dir}/repo/.cache/promtool/v-test/promtool)`,
        '',
      ],
    ]);
    expect(calls('apt-get')).toEqual([]);
  });

  it('--check names Helm when it is not built, and the Go that would build it', () => {
    const r = run(['--check'], { env: { HELM_VERSION: 'v0.0.0-not-built' } });
    expect([r.status, r.stdout]).toEqual([
      1,
      expect.stringMatching(/^missing {2}helm v0\.0\.0-not-built is not built in .*\/repo\/\.cache\/helm; building it needs Go: \S+/m),
    ]);
  });

  it('installs the missing packages with one non-interactive apt-get, then is silent and does nothing', () => {
    const first = run([]);
    expect([first.status, calls('apt-get')]).toEqual([0, aptGetInstall('kcat chromium')]);
    expect(first.stderr).toContain('test-deps.sh: missing kcat (Debian package kcat)');
    expect(first.stderr).toContain('test-deps.sh: missing chromium (Debian package chromium)');
    expect(first.stderr).toContain('test-deps.sh: installed what was missing');
    expect(run(['--check']).status).toBe(0);

    const second = run([]);
    expect([second.status, second.stdout, second.stderr, calls('apt-get').length]).toEqual([0, '', '', 2]);
  });

  it('installs postgresql when no PostgreSQL initdb is found (PG_INITDB: where it is looked for)', () => {
    // The stand-in apt-get "installs" package postgresql as the program bin/postgresql.
    const initdb = join(bin, 'postgresql');
    rmSync(initdb, { force: true });
    const r = run([], { env: { PG_INITDB: initdb } });
    expect([r.status, calls('apt-get')]).toEqual([0, aptGetInstall('kcat postgresql chromium')]);
    expect(r.stderr).toContain(`test-deps.sh: missing ${initdb} (Debian package postgresql): the Postgres sink's tests`);
    rmSync(initdb, { force: true });
  });

  it('not root: installs through sudo', () => {
    const r = run([], { asUser: 'nobody' });
    expect([r.status, calls('sudo'), calls('apt-get')]).toEqual([
      0,
      [
        'sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q',
        'sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kcat chromium',
      ],
      aptGetInstall('kcat chromium'),
    ]);
    expect(r.stderr).toContain("running 'apt-get update' and 'apt-get install kcat chromium' with sudo");
  });

  it('not root and no sudo: fails naming the command to run as root', () => {
    rmSync(join(bin, 'sudo'));
    const r = run([], { asUser: 'nobody' });
    expect([r.status, r.stderr, calls('apt-get')]).toEqual([
      1,
      expect.stringContaining("test-deps.sh: ERROR: not root and no sudo: run 'apt-get install kcat chromium' as root"),
      [],
    ]);
  });

  it('fails naming what apt-get did not provide', () => {
    const r = run([], { env: { FAKE_APT_PROVIDES: 'no' } });
    expect([r.status, r.stderr]).toEqual([
      1,
      expect.stringContaining('test-deps.sh: ERROR: still missing after apt-get install: kcat (Debian package kcat)'),
    ]);
  });

  it('without apt-get, fails naming the packages to install', () => {
    rmSync(join(bin, 'apt-get'));
    const r = run([]);
    expect([r.status, r.stderr]).toEqual([
      1,
      expect.stringContaining('test-deps.sh: ERROR: no apt-get on this machine: install kcat chromium yourself'),
    ]);
  });

  it('leaves the browser to CHROMIUM_PATH when it is set', () => {
    const r = run([], { env: { CHROMIUM_PATH: '/opt/browser/chrome' } });
    expect([r.status, calls('apt-get')]).toEqual([0, aptGetInstall('kcat')]);
  });
});
