-- The tables of sluice's Postgres sink (postgresSink), under one schema (default `sluice`).
--
-- The sink creates them itself on first use (under an advisory lock, so concurrent executors do
-- not race), with exactly this file. To create them ahead of time instead (a migration run by a
-- role allowed to create schemas, the sink's own role then needing only SELECT/INSERT/UPDATE):
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -v schema=sluice -f postgres-sink-tables.sql
--
-- Every statement is idempotent: running the file again changes nothing.

CREATE SCHEMA IF NOT EXISTS :"schema";

-- One row per job: the epoch of the newest driver whose tasks have written. A sink transaction
-- holds its job's row FOR SHARE from start to commit; a task of a newer epoch raises the epoch
-- (which waits for every transaction of the older epochs to end), and a task of an older epoch
-- then finds itself fenced and writes nothing.
CREATE TABLE IF NOT EXISTS :"schema".fence (
  job        text        PRIMARY KEY,
  epoch      bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per job and input partition: the next offset to read (the authority for the job's
-- offsets; the Redis checkpoint follows it forward). Moved by compare-and-set from a chunk's
-- `from` to its `until` in the transaction that writes the chunk's outputs.
CREATE TABLE IF NOT EXISTS :"schema".offsets (
  job        text        NOT NULL,
  topic      text        NOT NULL,
  partition  integer     NOT NULL,
  until      bigint      NOT NULL,
  batch_id   bigint      NOT NULL,
  epoch      bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, topic, partition)
);

-- Dead letters replayed into the sink (`sluice dlq replay`): one row per record, so that a record
-- replayed twice is written once.
CREATE TABLE IF NOT EXISTS :"schema".replays (
  job         text        NOT NULL,
  topic       text        NOT NULL,
  partition   integer     NOT NULL,
  "offset"    bigint      NOT NULL,
  replayed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, topic, partition, "offset")
);
