import { z } from 'zod';

/**
 * Every configuration key of sluice, with its default. One schema for all processes: each process
 * reads the sections it needs. Sections are strict, so a misspelt key fails instead of being ignored.
 */

const positiveInt = z.number().int().positive();
const port = z.number().int().min(0).max(65535);
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');

/** Explicit per-partition starting offsets: `{ "topic": { "0": 42, "1": 7 } }`. */
const explicitOffsets = z.record(
  z.string(),
  z.record(z.string().regex(/^\d+$/), z.union([z.number().int().min(0), z.string().regex(/^\d+$/)]))
);
export const startingOffsetsSchema = z.union([z.literal('earliest'), z.literal('latest'), explicitOffsets]);

/**
 * How much a batch may read: the keys a job module's `batch` and the configuration's `job` section
 * share (the configuration overrides the module).
 */
export const rateSettingsShape = {
  /** Records/s per partition; 0 = no cap. */
  maxRatePerPartition: z.number().int().min(0).optional(),
  /** Floor in records per partition per batch once a rate limit applies (Spark's default 1). */
  minRatePerPartition: z.number().int().min(0).optional(),
  /** Records per batch over all partitions, split by backlog share; 0 = no cap. */
  maxRecordsPerBatch: z.number().int().min(0).optional(),
  /** Overrides by `topic` or `topic:partition`. */
  rateOverrides: z
    .record(
      z.string().min(1),
      z
        .object({ maxRatePerPartition: z.number().int().min(0).optional(), minRatePerPartition: z.number().int().min(0).optional() })
        .strict()
    )
    .optional(),
  /** Spark's backpressure: size batches by the rate the job was measured to sustain. */
  backpressure: z.boolean().optional(),
  /** Records/s for the first batch under backpressure, before any estimate (0 = no limit). */
  initialRate: z.number().int().min(0).optional(),
};

export const configSchema = z
  .object({
    kafka: z
      .object({
        brokers: z.array(hostPort).min(1).default(['127.0.0.1:9092']),
        clientId: z.string().min(1).default('sluice'),
        isolation: z.enum(['read_committed', 'read_uncommitted']).default('read_committed'),
        connectionTimeoutMs: positiveInt.default(3000),
        requestTimeoutMs: positiveInt.default(30000),
        fetchMaxBytes: positiveInt.default(16 * 1024 * 1024),
        partitionMaxBytes: positiveInt.default(4 * 1024 * 1024),
        fetchMaxWaitMs: positiveInt.default(100),
        retries: z.number().int().min(0).default(5),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
          .default('redis://127.0.0.1:6379'),
        connectTimeoutMs: positiveInt.default(3000),
      })
      .strict()
      .prefault({}),
    /** Overrides of the job module's own settings, so one module serves many runs. */
    job: z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only')
          .optional(),
        topics: z.array(z.string().min(1)).min(1).optional(),
        startingOffsets: startingOffsetsSchema.optional(),
        batchIntervalMs: positiveInt.optional(),
        ...rateSettingsShape,
      })
      .strict()
      .prefault({}),
    /** Tuning of the backpressure rate estimator (Spark's spark.streaming.backpressure.pid.*). */
    backpressure: z
      .object({
        proportional: z.number().min(0).default(1.0),
        integral: z.number().min(0).default(0.2),
        derivative: z.number().min(0).default(0.0),
        minRate: z.number().positive().default(100),
      })
      .strict()
      .prefault({}),
    driver: z
      .object({
        host: z.string().default('127.0.0.1'),
        grpcPort: port.default(7070),
        /** HTTP server: JSON API, /metrics, /healthz, /readyz and the web UI (Spark UI's port; 0 = any). */
        httpPort: port.default(4040),
        /** Kafka consumer group the committed offsets are mirrored to (default `sluice-<job>`; '' = none). */
        consumerGroup: z.string().optional(),
        /** Leader lease TTL; the driver renews it every third of it. */
        leaseTtlMs: z.number().int().min(1000).default(10000),
        taskTimeoutMs: positiveInt.default(60000),
        maxTaskFailures: positiveInt.default(4),
        retryBackoffMs: z.number().int().min(0).default(200),
        heartbeatTimeoutMs: positiveInt.default(10000),
        executorWaitMs: positiveInt.default(60000),
        /** Executors to wait for before the first batch, so the first plan spreads over all of them. */
        minExecutors: positiveInt.default(1),
        historySize: positiveInt.default(1000),
        /** Stop after this many batches (0 = run forever). */
        batches: z.number().int().min(0).default(0),
        /** `latest`: stop once everything present at start is committed. */
        until: z.enum(['none', 'latest']).default('none'),
      })
      .strict()
      .prefault({}),
    executor: z
      .object({
        id: z.string().min(1).optional(),
        driver: hostPort.default('127.0.0.1:7070'),
        host: z.string().default('127.0.0.1'),
        grpcPort: port.default(0),
        /** HTTP server for /metrics and /healthz (0 = any). */
        httpPort: port.default(0),
        slots: positiveInt.default(2),
        heartbeatIntervalMs: positiveInt.default(1000),
        /** Records processed and committed together; bounds memory for long ranges. */
        maxChunkRecords: positiveInt.default(10000),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.driver.taskTimeoutMs <= config.executor.heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['driver', 'taskTimeoutMs'],
        message: 'must be greater than executor.heartbeatIntervalMs',
      });
    }
    if (config.driver.heartbeatTimeoutMs <= config.executor.heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['driver', 'heartbeatTimeoutMs'],
        message: 'must be greater than executor.heartbeatIntervalMs',
      });
    }
  });

export type SluiceConfig = z.infer<typeof configSchema>;
export type StartingOffsets = z.infer<typeof startingOffsetsSchema>;
