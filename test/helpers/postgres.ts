import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { repoRoot, uniqueName } from './env';
import { freePort } from './processes';

/** The tests' Postgres (the global setup starts deploy/local/postgres.sh when SLUICE_PG_URL is not set). */
export const pgUrl = (): string => process.env.SLUICE_PG_URL as string;

/** A schema no other test uses (lower case: the sink's schema must be an unquoted identifier). */
export const uniqueSchema = (prefix: string): string => uniqueName(prefix).replaceAll('-', '_');

export async function withPg<T>(fn: (client: Client) => Promise<T>, url = pgUrl()): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string, url = pgUrl()): Promise<void> {
  await withPg((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`), url);
}

/**
 * What test/jobs/pg-audit.js wrote: rows, distinct ids, and the ids against the produced values
 * (an id written twice is a duplicate, a value without a row is lost).
 */
export async function auditTable(
  schema: string,
  produced: string[],
  url = pgUrl()
): Promise<{ rows: number; distinct: number; duplicates: number; lost: number }> {
  return withPg(async (c) => {
    const { rows } = await c.query<{ id: string; n: string }>(`SELECT id, count(*) AS n FROM "${schema}".audit GROUP BY id`);
    const counts = new Map(rows.map((r) => [r.id, Number(r.n)]));
    return {
      rows: rows.reduce((n, r) => n + Number(r.n), 0),
      distinct: rows.length,
      duplicates: rows.filter((r) => Number(r.n) > 1).length,
      lost: produced.filter((v) => !counts.has(v)).length,
    };
  }, url);
}

/** The sink's offsets of a job, `topic:partition` -> next offset, as test/helpers/kafka.ts's endOffsets. */
export async function sinkOffsets(schema: string, job: string, url = pgUrl()): Promise<Record<string, string>> {
  return withPg(async (c) => {
    const { rows } = await c.query<{ topic: string; partition: number; until: string }>(
      `SELECT topic, partition, until FROM "${schema}".offsets WHERE job = $1`,
      [job]
    );
    return Object.fromEntries(rows.map((r) => [`${r.topic}:${r.partition}`, r.until]));
  }, url);
}

/** A Postgres of a test's own (deploy/local/postgres.sh on a free port and a temporary data dir), to stop and start. */
export class OwnPostgres {
  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly url: string
  ) {}

  static async start(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-'));
    const env = { ...process.env, PG_PORT: String(await freePort()), PG_DIR: dir };
    const pg = new OwnPostgres(env, `postgres://postgres@127.0.0.1:${env.PG_PORT}/postgres`);
    pg.up();
    return pg;
  }

  up(): void {
    this.script('up');
  }

  down(): void {
    this.script('down');
  }

  destroy(): void {
    this.down();
    rmSync(this.env.PG_DIR as string, { recursive: true, force: true });
  }

  private script(command: string): void {
    execFileSync('bash', [join(repoRoot, 'deploy', 'local', 'postgres.sh'), command], {
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
}
