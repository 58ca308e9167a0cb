import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { z } from 'zod';
import { redactUrl } from '../checkpoint';
import { FencedError, isSluiceError, JobError, ProcessFailedError, SinkUnavailableError, SluiceError } from '../errors';
import { describeIssues } from '../job/define-job';
import type { ChunkCommitter, CommitOutcome, ProcessContext, Sink } from '../job/types';
import { followStoredOffset, storedOffsetGap } from './offset-authority';

export interface PostgresSinkOptions<Out> {
  /** `postgres://user:password@host:port/database`; or give `pool`, or neither (libpq's PG* variables). */
  connectionString?: string;
  /** node-postgres pool options (`max`, `host`, `ssl`, ...), merged under `connectionString`. */
  pool?: PoolConfig;
  /** The schema of the sink's own tables (fence, offsets, replays); default `sluice`. */
  schema?: string;
  /**
   * A transaction left idle this long (its executor paused or cut off) is ended by Postgres, which
   * releases its locks and discards its writes; default 10000 ms. Keep it well below the task timeout.
   */
  idleInTransactionTimeoutMs?: number;
  /** How long a statement waits for a lock (a paused executor's transaction) before the attempt fails and is retried; default 30000 ms. */
  lockTimeoutMs?: number;
  /**
   * Creates the job's own tables (`CREATE TABLE IF NOT EXISTS ...`): runs once per process, before
   * the first write, in the transaction that creates the sink's tables, under the same advisory
   * lock, so that executors starting together do not race.
   */
  setup?(client: PoolClient): Promise<void> | void;
  /**
   * Writes one chunk's outputs with `client`, inside the sink's transaction (never COMMIT or
   * ROLLBACK there). Whatever it writes commits together with the partition's offset, or not at all.
   */
  write(client: PoolClient, outputs: Out[], context: ProcessContext): Promise<void> | void;
}

const DEFAULT_SCHEMA = 'sluice';
const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;
const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

const optionsSchema = z
  .object({
    connectionString: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    pool: z.record(z.string(), z.unknown()).optional(),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters)')
      .refine((name) => !name.startsWith('pg_'), 'must not start with pg_ (reserved by Postgres for system schemas)')
      .optional(),
    idleInTransactionTimeoutMs: z.number().int().positive().optional(),
    lockTimeoutMs: z.number().int().positive().optional(),
    write: z.custom<() => unknown>((v) => typeof v === 'function', 'must be a function (client, outputs, context)'),
    setup: z.custom<() => unknown>((v) => typeof v === 'function', 'must be a function (client)').optional(),
  })
  .strict();

/** The tables' DDL (also the documented migration): psql's `:"schema"` becomes the quoted schema name. */
const tablesSql = (schema: string): string =>
  readFileSync(join(__dirname, 'sql', 'postgres-sink-tables.sql'), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n')
    .replaceAll(':"schema"', `"${schema}"`);

/**
 * Exactly-once into Postgres. Each chunk is one local transaction on one pooled client:
 * 1. the job's fence row, `FOR SHARE`: a task of an older epoch than the newest that wrote is fenced
 *    (a newer one first raises the fence, which waits for the older epochs' transactions to end);
 * 2. `write(client, outputs, context)`;
 * 3. the partition's offset row moves from the chunk's `from` to its `until` (compare-and-set);
 *    when it is elsewhere nothing is written: already committed (at or past `until`), committed in
 *    part by an attempt that chunked differently, or a coded gap;
 * 4. COMMIT; then the Redis checkpoint follows by compare-and-set. Postgres is the authority: a
 *    crash between the two leaves Redis behind, and the next attempt or leader moves it forward.
 *
 * The tables live under `schema` and are created on first use (see sql/postgres-sink-tables.sql).
 * Skew splitting (`minPartitions`) is refused for this sink: a partition's chunks commit in order.
 */
export function postgresSink<Out>(options: PostgresSinkOptions<Out>): Sink<Out> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new JobError(`postgresSink: invalid options: ${describeIssues(parsed.error)}`);
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const table = {
    fence: `"${schema}".fence`,
    offsets: `"${schema}".offsets`,
    replays: `"${schema}".replays`,
  };
  const url = options.connectionString ?? options.pool?.connectionString;
  // For messages: where Postgres was looked for, without a password.
  const where =
    url !== undefined
      ? redactUrl(url)
      : `${options.pool?.host ?? process.env.PGHOST ?? 'localhost'}:${options.pool?.port ?? process.env.PGPORT ?? 5432}`;
  let pool: Pool | undefined;
  let tables: Promise<void> | undefined;

  const connect = async (): Promise<PoolClient> => {
    if (pool === undefined) {
      pool = new Pool({
        connectionTimeoutMillis: 5000,
        ...options.pool,
        ...(options.connectionString !== undefined && { connectionString: options.connectionString }),
        application_name: 'sluice',
        idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        lock_timeout: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      });
      // A connection lost while idle (server restart) or while checked out surfaces on the next query.
      pool.on('error', () => undefined);
      pool.on('connect', (client) => client.on('error', () => undefined));
    }
    try {
      return await pool.connect();
    } catch (e) {
      throw asSinkError(e, where, 'connect');
    }
  };

  /** Creates the tables (the sink's, then the job's) once per process, under an advisory lock: concurrent CREATE ... IF NOT EXISTS can collide. */
  const createTables = async (client: PoolClient): Promise<void> => {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice-sink-tables:${schema}`]);
    await client.query(tablesSql(schema));
    await options.setup?.(client);
    await client.query('COMMIT');
  };

  /** Runs `work` on a pooled client; on failure rolls back (or drops a broken connection) and throws a coded error. */
  const withClient = async <T>(what: string, work: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await connect();
    try {
      tables ??= createTables(client).catch((e: unknown) => {
        tables = undefined;
        throw e;
      });
      await tables;
      const result = await work(client);
      client.release();
      return result;
    } catch (e) {
      let broken = isConnectionError(e);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      client.release(broken);
      throw asSinkError(e, where, what);
    }
  };

  /** Holds the job's fence row FOR SHARE for the transaction, raising it first when `epoch` is newer. */
  const enterFence = async (client: PoolClient, job: string, epoch: bigint): Promise<void> => {
    for (;;) {
      await client.query('BEGIN');
      const { rows } = await client.query<{ epoch: string }>(`SELECT epoch FROM ${table.fence} WHERE job = $1 FOR SHARE`, [job]);
      const stored = rows[0] === undefined ? null : BigInt(rows[0].epoch);
      if (stored === epoch) return;
      await client.query('ROLLBACK');
      if (stored !== null && stored > epoch) throw new FencedError(epoch, String(stored));
      // Waits until every transaction holding the row (an older epoch's) has ended: its commit
      // precedes the new epoch, or Postgres ends it (idle in transaction) and it commits nothing.
      await client.query(
        `INSERT INTO ${table.fence} AS f (job, epoch) VALUES ($1, $2)
         ON CONFLICT (job) DO UPDATE SET epoch = EXCLUDED.epoch, updated_at = now() WHERE f.epoch < EXCLUDED.epoch`,
        [job, String(epoch)]
      );
    }
  };

  type Written = { status: 'written' } | { status: 'ahead'; stored: bigint };

  /** One chunk's transaction; `ahead`: the offset row was already past the chunk's start, nothing written. */
  const writeChunk = async (client: PoolClient, outputs: Out[], committer: ChunkCommitter, epoch: bigint): Promise<Written> => {
    const { context } = committer;
    const key = [context.job, context.topic, context.partition];
    await enterFence(client, context.job, epoch);
    try {
      await options.write(client, outputs, context);
    } catch (e) {
      if (isConnectionError(e)) throw e;
      throw new ProcessFailedError(
        `postgresSink: write of ${context.topic}-${context.partition} [${context.fromOffset}, ${context.untilOffset}) failed: ${(e as Error).message}`,
        { topic: context.topic, partition: context.partition, from: String(context.fromOffset), until: String(context.untilOffset) },
        e
      );
    }
    const position = [String(context.untilOffset), String(context.batchId), String(epoch)];
    const moved = await client.query(
      `UPDATE ${table.offsets} SET until = $5, batch_id = $6, epoch = $7, updated_at = now()
       WHERE job = $1 AND topic = $2 AND partition = $3 AND until = $4`,
      [...key, String(context.fromOffset), ...position]
    );
    // A partition's first chunk: no row yet (a concurrent first insert makes this one a no-op).
    const inserted =
      moved.rowCount === 1 ||
      (
        await client.query(
          `INSERT INTO ${table.offsets} (job, topic, partition, until, batch_id, epoch) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (job, topic, partition) DO NOTHING`,
          [...key, ...position]
        )
      ).rowCount === 1;
    if (inserted) {
      await client.query('COMMIT');
      return { status: 'written' };
    }
    const { rows } = await client.query<{ until: string }>(
      `SELECT until FROM ${table.offsets} WHERE job = $1 AND topic = $2 AND partition = $3`,
      key
    );
    await client.query('ROLLBACK');
    const stored = BigInt((rows[0] as { until: string }).until);
    if (stored > context.fromOffset) return { status: 'ahead', stored };
    throw storedOffsetGap('postgresSink', `${schema}.offsets`, committer, stored);
  };

  /** A dead letter replayed (`sluice dlq replay`): written once per record, keyed in the replays table. */
  const replay = async (client: PoolClient, outputs: Out[], context: ProcessContext): Promise<boolean> => {
    await client.query('BEGIN');
    const marked = await client.query(
      `INSERT INTO ${table.replays} (job, topic, partition, "offset") VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [context.job, context.topic, context.partition, String(context.fromOffset)]
    );
    if (marked.rowCount !== 1) {
      await client.query('ROLLBACK');
      return false;
    }
    await options.write(client, outputs, context);
    await client.query('COMMIT');
    return true;
  };

  return {
    kind: 'postgres',
    guarantee: 'exactly-once',
    requires: { orderedCommits: true },
    async commit(outputs: Out[], committer: ChunkCommitter): Promise<CommitOutcome> {
      const { context } = committer;
      if (committer.epoch === undefined) {
        const written = await withClient('replay', (client) => replay(client, outputs, context));
        const marked = await committer.commit([]);
        return written ? marked : { status: 'skipped', storedOffset: null };
      }
      const epoch = BigInt(committer.epoch);
      const written = await withClient('commit', (client) => writeChunk(client, outputs, committer, epoch));
      // Written now: Redis follows. Written (in all or in part) by an earlier attempt: likewise.
      return written.status === 'written' ? committer.commit([]) : followStoredOffset(committer, written.stored);
    },
    async committedOffsets(partitions, { job }) {
      const wanted = new Set(partitions.map((p) => `${p.topic}:${p.partition}`));
      const { rows } = await withClient('read offsets', (client) =>
        client.query<{ topic: string; partition: number; until: string }>(
          `SELECT topic, partition, until FROM ${table.offsets} WHERE job = $1`,
          [job]
        )
      );
      return rows
        .filter((r) => wanted.has(`${r.topic}:${r.partition}`))
        .map((r) => ({ topic: r.topic, partition: r.partition, offset: BigInt(r.until) }));
    },
    async close() {
      const open = pool;
      pool = undefined;
      tables = undefined;
      await open?.end();
    },
  };
}

/** Errors of the connection itself (refused, reset, server shutting down, session ended): Postgres is not there. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
/** admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, idle_in_transaction_session_timeout. */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '25P03']);

function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (CONNECTION_ERRNOS.has(code) || CONNECTION_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection is not open/i.test(
    (e as Error | null)?.message ?? ''
  );
}

function asSinkError(e: unknown, where: string, what: string): SluiceError {
  if (isSluiceError(e)) return e;
  const message = (e as Error).message;
  if (isConnectionError(e))
    return new SinkUnavailableError(`postgresSink: Postgres at ${where} is unavailable (${what}): ${message}`, { where }, e);
  const code = (e as { code?: unknown }).code;
  // lock_not_available (lock_timeout), serialization failure, deadlock: another attempt may succeed.
  return new SluiceError('SLUICE_TASK_FAILED', `postgresSink: ${what} failed${typeof code === 'string' ? ` (${code})` : ''}: ${message}`, {
    retriable: true,
    cause: e,
  });
}
