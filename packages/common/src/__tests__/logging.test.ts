import { PassThrough } from 'node:stream';
import { logLevel } from 'kafkajs';
import { kafkajsLogCreator } from '../kafka/kafkajs/log-creator';
import { createLogger } from '../logging';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

/** The keys of one JSON line in the order written, duplicates kept (JSON.parse would drop them). */
function rawKeys(line: string): string[] {
  return [...line.matchAll(/"([^"]+)":/g)].map((m) => m[1] as string);
}

const kafkajsEntry = (extra: Record<string, unknown>) => ({
  namespace: 'Connection',
  level: logLevel.ERROR,
  label: 'ERROR',
  log: { timestamp: '2026-01-01T00:00:00.000Z', logger: 'kafkajs', message: 'Connection error: connect ECONNREFUSED', ...extra },
});

describe('logging', () => {
  it('on a terminal, writes an entry with its fields on one line', async () => {
    const out = capture();
    const logger = createLogger('info', { role: 'driver' }, { pretty: true, destination: out.stream });
    const child = logger.child({ component: 'driver', job: 'j' });
    child.warn({ topic: 't', partition: 3, nested: { a: 1 } }, 'something happened');
    child.warn({ err: 'connect ECONNREFUSED' }, 'not registered with the driver; retrying');
    child.warn({ error: 'This server does not host this topic-partition' }, 'kafkajs said');
    await new Promise((resolve) => setImmediate(resolve));
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/WARN.*something happened.*"topic":"t".*"partition":3/);
    expect(lines[1]).toMatch(/not registered with the driver; retrying.*"err":"connect ECONNREFUSED"/);
    expect(lines[2]).toMatch(/kafkajs said.*"error":"This server/);
  });

  it('routes kafkajs entries into the logger one level lower, each key once', () => {
    const out = capture();
    const logger = createLogger('info', { role: 'driver' }, { pretty: false, destination: out.stream })
      .child({ component: 'kafka-oracle' })
      .child({ topic: 'orders', partition: 0 });
    const log = kafkajsLogCreator(logger)(logLevel.ERROR);
    log(kafkajsEntry({ broker: '127.0.0.1:1', clientId: 'sluice', topic: 'orders', partition: 1, level: 'x', pid: 7 }));
    const line = out.text().trim();
    const keys = rawKeys(line);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    const { time, ...fields } = JSON.parse(line) as Record<string, unknown>;
    expect(typeof time).toBe('number');
    expect(fields).toEqual({
      level: 40,
      pid: process.pid,
      role: 'driver',
      component: 'kafka-oracle',
      topic: 'orders',
      partition: 0,
      kafkajs: 'Connection',
      broker: '127.0.0.1:1',
      clientId: 'sluice',
      'kafkajs.partition': 1,
      'kafkajs.level': 'x',
      'kafkajs.pid': 7,
      msg: 'Connection error: connect ECONNREFUSED',
    });
  });
});
