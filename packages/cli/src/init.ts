import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { ConfigError } from '@sluice/common';
import type { Command } from 'commander';

/**
 * `sluice init <dir>`: a job project to start from: package.json (depending on this version of
 * sluice), an ES-module job that counts records by value into Redis, a script producing sample
 * records, and a README with the commands to run it.
 */

export interface InitFlags {
  name?: string;
  topic?: string;
}

/** Valid both as a job name (Redis key prefix) and as an npm package name. */
const NAME = /^[a-z0-9][a-z0-9._-]{0,213}$/;
/** Kafka's legal topic names. */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

interface OwnPackage {
  version: string;
  engines: { node: string };
  dependencies: Record<string, string>;
}

interface ProjectSettings {
  name: string;
  topic: string;
  /** This CLI's package.json: the project depends on the same sluice version and kafkajs. */
  own: OwnPackage;
}

function projectFiles({ name, topic, own }: ProjectSettings): Record<string, string> {
  const packageJson = {
    name,
    version: '0.1.0',
    private: true,
    description: `sluice job ${name}: reads topic ${topic}, counts records by value into Redis, exactly once`,
    type: 'module',
    engines: { node: own.engines.node },
    scripts: {
      start: 'sluice run --job ./my-job.js --executors 2',
      'produce-sample': `node produce-sample.js ${topic} 1000`,
    },
    dependencies: {
      '@sluice/cli': `^${own.version}`,
      '@sluice/common': `^${own.version}`,
      kafkajs: own.dependencies['kafkajs'],
    },
  };
  return {
    'package.json': `${JSON.stringify(packageJson, null, 2)}\n`,
    'my-job.js': `// @ts-check
/**
 * ${name}: counts every record of topic '${topic}' by its value into the Redis hash
 * \`sluice:{${name}}:out:counts\`, exactly once: the counters move with the Kafka offsets, in one
 * Redis script. Put your logic in \`process\` (it runs on the executors, once per chunk of a range)
 * and choose a sink: redisCounterSink, redisSink (any Redis writes) or idempotentSink (other stores).
 */
import { defineJob, redisCounterSink } from '@sluice/common';

export default defineJob({
  name: '${name}',
  source: { topics: ['${topic}'], startingOffsets: 'earliest' },
  batch: { intervalMs: 1000 },
  process: (records) => records.map((record) => (record.value === null ? '<null>' : record.value.toString('utf8'))),
  sink: redisCounterSink({ key: 'counts' }),
});
`,
    'produce-sample.js': `// @ts-check
/**
 * Produces records with the values record-0 .. record-<count - 1> to a topic (created with 4
 * partitions if missing): \`node produce-sample.js [topic] [count]\`. Kafka from KAFKA_BROKERS.
 */
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const topic = process.argv[2] ?? '${topic}';
const count = Number(process.argv[3] ?? 1000);
const kafka = new Kafka({
  clientId: '${name}-sample',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  logLevel: logLevel.NOTHING,
});

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
await admin.disconnect();
const producer = kafka.producer();
await producer.connect();
for (let sent = 0; sent < count; sent += 5000) {
  const values = Array.from({ length: Math.min(5000, count - sent) }, (_, i) => ({ value: \`record-\${sent + i}\` }));
  await producer.send({ topic, messages: values });
}
await producer.disconnect();
process.stderr.write(\`produced \${count} records to \${topic}\\n\`);
`,
    'README.md': `# ${name}

A sluice job: reads the Kafka topic \`${topic}\` in
micro-batches and counts records by value into Redis, exactly once. Needs Node ${own.engines.node},
a Kafka broker and a Redis server.

\`\`\`sh
npm install
export KAFKA_BROKERS=127.0.0.1:9092 REDIS_URL=redis://127.0.0.1:6379
npm run produce-sample                     # 1000 records to ${topic}
npx sluice run --job ./my-job.js --executors 2 --until latest
redis-cli hgetall 'sluice:{${name}}:out:counts'
\`\`\`

Without \`--until\`, \`sluice run\` (also \`npm start\`) keeps running and processes new records as they
arrive. In production, run \`sluice driver --job ./my-job.js\` and several
\`sluice executor --job ./my-job.js --driver <host:port>\`.
`,
    '.gitignore': 'node_modules/\n',
  };
}

/** Writes the project into `dir` (created if missing; it must be empty) and says what to do next. */
export function initCommand(dir: string, flags: InitFlags): void {
  const target = resolve(dir);
  const name = flags.name ?? basename(target);
  if (!NAME.test(name)) {
    const given = flags.name === undefined ? `job name '${name}' (the folder's name; --name sets another)` : `--name '${name}'`;
    throw new ConfigError(
      `${given}: a job name here is lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (it also names the npm package)`
    );
  }
  const topic = flags.topic ?? name;
  if (!TOPIC.test(topic)) throw new ConfigError(`--topic '${topic}': a Kafka topic name is 1 to 249 of letters, digits, '.', '_' and '-'`);
  mkdirSync(target, { recursive: true });
  const present = readdirSync(target);
  if (present.length > 0)
    throw new ConfigError(`${target} is not empty (${present.slice(0, 3).join(', ')}): sluice init writes into a new or empty folder`);

  const own = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as OwnPackage;
  const files = projectFiles({ name, topic, own });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(target, file), text, { flag: 'wx' });
  const cd = relative(process.cwd(), target) || '.';
  process.stdout.write(
    `created job '${name}' (topic ${topic}) in ${target}: ${Object.keys(files).join(', ')}\n\n` +
      `  cd ${cd}\n  npm install\n  npm run produce-sample\n  npx sluice run --job ./my-job.js --executors 2 --until latest\n`
  );
}

export function addInitCommand(program: Command, fail: (e: unknown) => void): void {
  program
    .command('init')
    .description('create a job project in <dir>: package.json, my-job.js (ES module), produce-sample.js, README.md')
    .argument('<dir>', 'folder to create (or an empty one)')
    .option('--name <job>', 'job name, also the package name (default: the folder name)')
    .option('--topic <name>', 'topic the job reads (default: the job name)')
    .action((dir: string, flags: InitFlags) => {
      try {
        initCommand(dir, flags);
      } catch (e) {
        fail(e);
      }
    });
}
