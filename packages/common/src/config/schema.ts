import { z } from 'zod';

/**
 * Every configuration key of sluice, with its default. One schema for all processes: each process
 * reads the sections it needs. Sections are strict, so a misspelt key fails instead of being ignored.
 */

const positiveInt = z.number().int().positive();
const port = z.number().int().min(0).max(65535);
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');
/** Secrets and certificates are files (Kubernetes mounts Secrets as files); read at start-up. */
const filePath = z.string().min(1);

/** Explicit per-partition starting offsets: `{ "topic": { "0": 42, "1": 7 } }`. */
const explicitOffsets = z.record(
  z.string(),
  z.record(z.string().regex(/^\d+$/), z.union([z.number().int().min(0), z.string().regex(/^\d+$/)]))
);
/** Starting offsets by time: per partition, the first offset whose record timestamp is >= `timestamp` (ms). */
const timestampOffsets = z.object({ timestamp: z.number().int().min(0) }).strict();
export const startingOffsetsSchema = z.union([z.literal('earliest'), z.literal('latest'), timestampOffsets, explicitOffsets], {
  error: `expected 'earliest', 'latest', {"timestamp": ms} or {"topic": {"partition": offset}}`,
});

/**
 * A job's name: the hash tag of its Redis keys, its Kafka consumer group (`sluice-<name>`), a label
 * of its metrics. At most 200 characters, so that the group id, with its prefix, stays under the
 * 249 characters Kafka allows for names, and keys and labels stay short.
 */
export const jobNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, dot, dash and underscore only');

/** A subscription regex: must compile (as a JavaScript RegExp, matched against the whole topic name). */
export const topicPatternSchema = z
  .string()
  .min(1)
  .refine((source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  }, 'is not a valid regular expression');

/** Explicit assignment: `{ "topic": [0, 1] }`. */
export const assignSchema = z
  .record(z.string().min(1), z.array(z.number().int().min(0)).min(1))
  .refine((a) => Object.keys(a).length > 0, 'must name at least one topic');

/** The three ways to subscribe (exactly one may be given). */
export const subscriptionKeys = ['topics', 'pattern', 'assign'] as const;

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
  /** Split ranges far larger than the rest so a batch has at least this many tasks (0 = off). */
  minPartitions: z.number().int().min(0).optional(),
};

/** `receiver.*`: see docs/receiver-mode.md. */
const receiverSchema = z
  .object({
    /** Receivers of the job, each a consumer group member taking one task slot for good. */
    count: positiveInt.default(1),
    /** Received records are cut into a block this often (spark.streaming.blockInterval). */
    blockIntervalMs: positiveInt.default(200),
    /** Blocks waiting to be logged and reported; a full queue pauses the consumer (backpressure). */
    queueBlocks: positiveInt.default(10),
    /** Records/s per receiver; 0 = no limit (spark.streaming.receiver.maxRate). */
    maxRate: z.number().int().min(0).default(0),
    /** Write each block to a Redis Stream before it is reported and its offsets committed. */
    writeAheadLog: z.boolean().default(false),
    /** Replicas that must hold a logged block (Redis WAIT) before it is reported; 0 = the primary only. */
    walReplicas: z.number().int().min(0).default(0),
    /** How long WAIT waits for walReplicas. */
    walReplicaTimeoutMs: positiveInt.default(1000),
    /** A receiver that died is started again after this long (Spark's 2 s). */
    restartDelayMs: z.number().int().min(0).default(2000),
  })
  .strict()
  .prefault({});

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
        /** TLS to the brokers (SSL or SASL_SSL listeners). */
        ssl: z.boolean().default(false),
        /** PEM CA bundle the brokers' certificates must chain to (default: Node's public roots). */
        sslCaFile: filePath.optional(),
        /** PEM client certificate and key, for brokers that require TLS client authentication. */
        sslCertFile: filePath.optional(),
        sslKeyFile: filePath.optional(),
        /** false accepts any broker certificate: for tests only. */
        sslRejectUnauthorized: z.boolean().default(true),
        saslMechanism: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']).default('none'),
        saslUsername: z.string().min(1).optional(),
        /** File holding the SASL password (a mounted Secret); trailing newlines are ignored. */
        saslPasswordFile: filePath.optional(),
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
        /**
         * A driver or executor started while Redis cannot be reached waits for it (not ready), trying
         * again with backoff, for at most this long; unset: for as long as it takes (as on Kubernetes,
         * where Redis may start after sluice); 0: fails at once (`sluice run` does, unless this is set).
         */
        startupTimeoutMs: z.number().int().min(0).optional(),
        /** ACL user (Redis 6+); overrides a user in the URL. */
        username: z.string().min(1).optional(),
        /** File holding the password (a mounted Secret); overrides a password in the URL. */
        passwordFile: filePath.optional(),
        /** TLS (on with a rediss:// URL): PEM CA bundle, and client certificate and key if Redis wants them. */
        tlsCaFile: filePath.optional(),
        tlsCertFile: filePath.optional(),
        tlsKeyFile: filePath.optional(),
      })
      .strict()
      .prefault({}),
    /** Driver–executor gRPC: both are servers and clients of each other. */
    grpc: z
      .object({
        /** `off` (plaintext), `tls` (servers present certificates) or `mtls` (clients too, checked against tlsCaFile). */
        tls: z.enum(['off', 'tls', 'mtls']).default('off'),
        /** This process's PEM certificate and key: its server certificate, and its client certificate under mtls. */
        tlsCertFile: filePath.optional(),
        tlsKeyFile: filePath.optional(),
        /** PEM CA bundle peers must chain to. */
        tlsCaFile: filePath.optional(),
        /** Name checked in the server's certificate instead of the address's host (executors are reached by pod IP). */
        tlsServerName: z.string().min(1).optional(),
        /** File holding a shared token: every call carries `authorization: Bearer <token>`, servers refuse others. */
        tokenFile: filePath.optional(),
        /** Largest gRPC message sent or accepted; larger ones fail with RESOURCE_EXHAUSTED. */
        maxMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Overrides of the job module's own settings, so one module serves many runs. */
    job: z
      .object({
        name: jobNameSchema.optional(),
        topics: z.array(z.string().min(1)).min(1).optional(),
        /** Subscribe to every topic matching this regex (whole name; internal `__` topics excluded). */
        pattern: topicPatternSchema.optional(),
        /** Explicit partitions: `{ "topic": [0, 1] }`. */
        assign: assignSchema.optional(),
        startingOffsets: startingOffsetsSchema.optional(),
        /** Fail (true, default) or skip to the earliest offset with the loss counted (false) when data is gone. */
        failOnDataLoss: z.boolean().optional(),
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
        /**
         * Host of the addresses this driver publishes while it leads (its gRPC address for executors,
         * its HTTP URL for the standbys that forward the UI and API to it); default: `host`, or the
         * machine's hostname when `host` binds every interface (the pod IP on Kubernetes).
         */
        advertiseHost: z.string().min(1).optional(),
        grpcPort: port.default(7070),
        /** HTTP server: JSON API, /metrics, /healthz, /readyz and the web UI (Spark UI's port; 0 = any). */
        httpPort: port.default(4040),
        /** Kafka consumer group the committed offsets are mirrored to (default `sluice-<job>`; '' = none). */
        consumerGroup: z.string().optional(),
        /** Least time between two commits to that group (Kafka's `auto.commit.interval.ms`; 0 = after every batch). */
        consumerGroupCommitIntervalMs: z.number().int().min(0).default(5000),
        /** Leader lease TTL; the driver renews it every third of it. */
        leaseTtlMs: z.number().int().min(1000).default(3000),
        taskTimeoutMs: positiveInt.default(60000),
        maxTaskFailures: positiveInt.default(4),
        retryBackoffMs: z.number().int().min(0).default(200),
        heartbeatTimeoutMs: positiveInt.default(10000),
        executorWaitMs: positiveInt.default(60000),
        /** Executors to wait for before the first batch, so the first plan spreads over all of them. */
        minExecutors: positiveInt.default(1),
        historySize: positiveInt.default(1000),
        /**
         * High availability: wait as a standby for the leader lease for as long as it takes, instead of
         * failing when another driver holds it (the Helm chart sets it for every driver).
         */
        standby: z.boolean().default(false),
        /** SIGTERM: time for the batch in flight to commit before the driver gives up (default 10 × batch interval, as Spark). */
        shutdownTimeoutMs: positiveInt.optional(),
        /** Spark's speculation: run a copy of a straggling task on another executor; the first to commit wins. */
        speculation: z.boolean().default(false),
        /** A task is a straggler once it runs this many times the median finished duration (spark.speculation.multiplier). */
        speculationMultiplier: z.number().min(1).default(3),
        /** Fraction of a batch's tasks finished before any is speculated (spark.speculation.quantile). */
        speculationQuantile: z.number().gt(0).max(1).default(0.9),
        /** Tasks running less than this are not speculated (spark.speculation.minTaskRuntime). */
        speculationMinRuntimeMs: z.number().int().min(0).default(100),
        /** How often stragglers are looked for (spark.speculation.interval). */
        speculationIntervalMs: positiveInt.default(100),
        /**
         * Ranges of at most 1/16 of this many offsets that go to the same executor are sent together,
         * up to this many offsets per call: one Fetch per broker for all of them (0 = one call per range).
         */
        taskGroupRecords: z.number().int().min(0).default(10000),
        /** Stop after this many batches (0 = run forever). */
        batches: z.number().int().min(0).default(0),
        /** `latest`: stop once everything present at start is committed. */
        until: z
          .union([z.enum(['none', 'latest']), timestampOffsets, explicitOffsets], {
            error: `expected 'latest', {"timestamp": ms} or {"topic": {"partition": offset}}`,
          })
          .default('none'),
      })
      .strict()
      .prefault({}),
    executor: z
      .object({
        id: z.string().min(1).optional(),
        /** Driver addresses, tried in turn: with standby drivers, the one that leads accepts the registration. */
        driver: z.array(hostPort).min(1).default(['127.0.0.1:7070']),
        /** Address the Executor gRPC service and HTTP server bind (0.0.0.0 in a container). */
        host: z.string().default('127.0.0.1'),
        /** Address registered with the driver, which connects to it (the pod IP on Kubernetes); default: `host`. */
        advertiseHost: z.string().min(1).optional(),
        grpcPort: port.default(0),
        /** HTTP server for /metrics and /healthz (0 = any). */
        httpPort: port.default(0),
        slots: positiveInt.default(2),
        heartbeatIntervalMs: positiveInt.default(1000),
        /** Records processed and committed together; bounds memory for long ranges. */
        maxChunkRecords: positiveInt.default(10000),
        /**
         * Once a task of at most maxChunkRecords committed, fetch its partition's next records on a
         * connection of its own (at most twice that range, partitionMaxBytes per partition and
         * fetchMaxBytes in all), so the partition's next task here reads them from memory.
         */
        readAhead: z.boolean().default(true),
        /** SIGTERM: how long running tasks may take to finish before they are handed back to the driver. */
        shutdownTimeoutMs: z.number().int().min(0).default(30000),
      })
      .strict()
      .prefault({}),
    /** Where batches come from: `direct` (the driver plans offset ranges) or `receiver` (long-running receivers; docs/receiver-mode.md). */
    source: z
      .object({ mode: z.enum(['direct', 'receiver']).default('direct') })
      .strict()
      .prefault({}),
    /** The receiver-based approach (`source.mode = receiver`): Spark's receivers, blocks and write-ahead log. */
    receiver: receiverSchema,
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    /** Poison records: what happens to records the job's code (process, decode) cannot handle. */
    deadLetter: z
      .object({
        /** `fail` or `dead-letter`; overrides the job module's `onError` (default: the module's, else `fail`). */
        policy: z.enum(['fail', 'dead-letter']).optional(),
        /** Attempts of a task before its poison records are dead-lettered (attempt index >= this - 1). */
        maxAttempts: positiveInt.default(3),
        /** key + value + header bytes above which a record is poison without calling the job (0 = no limit). */
        maxRecordBytes: z
          .number()
          .int()
          .min(0)
          .default(1024 * 1024),
        /** BullMQ attempts of one dead-lettered record under `sluice dlq replay`. */
        replayAttempts: positiveInt.default(3),
        /** BullMQ exponential backoff of replay retries: this, then twice, four times... */
        replayBackoffMs: z.number().int().min(0).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const subscriptions = subscriptionKeys.filter((k) => config.job[k] !== undefined);
    if (subscriptions.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['job', subscriptions[1] as string],
        message: `cannot be combined with job.${subscriptions[0]}: give exactly one of job.topics, job.pattern, job.assign`,
      });
    }
    const required = (section: 'grpc' | 'kafka' | 'redis', keys: string[], why: string): void => {
      const values = config[section] as Record<string, unknown>;
      for (const key of keys) {
        if (values[key] === undefined) ctx.addIssue({ code: 'custom', path: [section, key], message: `is required ${why}` });
      }
    };
    if (config.grpc.tls === 'tls') required('grpc', ['tlsCertFile', 'tlsKeyFile'], "when grpc.tls is 'tls'");
    if (config.grpc.tls === 'mtls') required('grpc', ['tlsCertFile', 'tlsKeyFile', 'tlsCaFile'], "when grpc.tls is 'mtls'");
    if (config.kafka.saslMechanism !== 'none') {
      required('kafka', ['saslUsername', 'saslPasswordFile'], `when kafka.saslMechanism is '${config.kafka.saslMechanism}'`);
    }
    if ((config.kafka.sslCertFile === undefined) !== (config.kafka.sslKeyFile === undefined)) {
      required('kafka', ['sslCertFile', 'sslKeyFile'], 'together (a client certificate and its key)');
    }
    if ((config.redis.tlsCertFile === undefined) !== (config.redis.tlsKeyFile === undefined)) {
      required('redis', ['tlsCertFile', 'tlsKeyFile'], 'together (a client certificate and its key)');
    }
    for (const key of ['tlsCaFile', 'tlsCertFile', 'tlsKeyFile'] as const) {
      if (config.redis[key] !== undefined && !config.redis.url.startsWith('rediss://')) {
        ctx.addIssue({ code: 'custom', path: ['redis', key], message: 'applies only to a rediss:// redis.url (TLS)' });
      }
    }
    receiverModeRefusals(config, ctx);
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

/** Settings the receiver-based approach cannot honour (docs/receiver-mode.md#refusals). */
function receiverModeRefusals(
  config: {
    source: { mode: string };
    receiver: z.infer<typeof receiverSchema>;
    job: { assign?: unknown };
    driver: { until: unknown; speculation: boolean };
  },
  ctx: z.RefinementCtx
): void {
  if (config.receiver.walReplicas > 0 && !config.receiver.writeAheadLog) {
    ctx.addIssue({ code: 'custom', path: ['receiver', 'walReplicas'], message: 'needs receiver.writeAheadLog = true' });
  }
  if (config.source.mode !== 'receiver') return;
  const refuse = (path: string[], why: string): void =>
    ctx.addIssue({ code: 'custom', path, message: `cannot be used with source.mode = receiver: ${why}` });
  if (config.job.assign !== undefined) refuse(['job', 'assign'], 'receivers subscribe through a consumer group, which assigns partitions');
  if (config.driver.until !== 'none') refuse(['driver', 'until'], 'a bounded run needs offset ranges planned by the driver');
  if (config.driver.speculation) refuse(['driver', 'speculation'], 'a block task must not run twice at once');
}

export type SluiceConfig = z.infer<typeof configSchema>;
export type StartingOffsets = z.infer<typeof startingOffsetsSchema>;
export type TopicAssignment = z.infer<typeof assignSchema>;
/** `source.mode`: the direct approach, or receivers with a block log. */
export type SourceMode = SluiceConfig['source']['mode'];
