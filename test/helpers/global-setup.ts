import { execFileSync, type StdioOptions } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const local = join(__dirname, '..', '..', 'deploy', 'local');

/**
 * Installs the programs the tests run where missing: chromium, kcat, openssl, redis-server (apt-get)
 * and Helm (built from the Go module proxy); see deploy/local/test-deps.sh. Fast when all are there.
 */
export function provisionTestPrograms(options: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions } = {}): void {
  // stdin too by default: sudo may ask for a password.
  execFileSync('bash', [join(local, 'test-deps.sh')], { env: options.env ?? process.env, stdio: options.stdio ?? 'inherit' });
}

/** The local Postgres of deploy/local/postgres.sh (the Postgres sink's tests), started if it is not running; its URL. */
function startPostgres(): string {
  const output = execFileSync('bash', [join(local, 'postgres.sh'), 'up'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const url = /^SLUICE_PG_URL=(.+)$/m.exec(output)?.[1];
  if (url === undefined) throw new Error(`deploy/local/postgres.sh up did not report SLUICE_PG_URL; it printed:\n${output}`);
  return url;
}

/**
 * Integration tests run against a real Kafka, Redis and Postgres: the ones in KAFKA_BROKERS,
 * REDIS_URL and SLUICE_PG_URL, or, when those are not set, the local ones that
 * `deploy/local/infra.sh up` and `deploy/local/postgres.sh up` provision (both idempotent:
 * already-running servers are reused). The programs the tests run are installed first.
 */
export default function globalSetup(): void {
  provisionTestPrograms();
  // The topics the tests create are listed here and deleted by the global teardown.
  process.env.SLUICE_TEST_TOPICS_FILE = join(tmpdir(), `sluice-test-topics-${process.pid}`);
  writeFileSync(process.env.SLUICE_TEST_TOPICS_FILE, '');
  process.env.SLUICE_PG_URL ??= startPostgres();
  if (process.env.KAFKA_BROKERS && process.env.REDIS_URL) return;
  const output = execFileSync('bash', [join(local, 'infra.sh'), 'up'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  for (const line of output.split('\n')) {
    const match = /^(KAFKA_BROKERS|REDIS_URL)=(.+)$/.exec(line.trim());
    if (match) process.env[match[1] as string] = match[2];
  }
  if (!process.env.KAFKA_BROKERS || !process.env.REDIS_URL) {
    throw new Error(`deploy/local/infra.sh up did not report KAFKA_BROKERS and REDIS_URL; it printed:\n${output}`);
  }
}
