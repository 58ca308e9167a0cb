import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { deadLetterValue, listDeadLetters } from '../helpers/dlq';
import { createTopic, endOffsets, produceToPartition, produceValues } from '../helpers/kafka';
import { freePort, jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, redis } from '../helpers/redis';

jest.setTimeout(120_000);

/**
 * A job whose `process` returns a write its sink cannot apply for one record (test/jobs/malformed-output.js:
 * op `incr` for the value `malformed`). The record fails under the job's `onError` policy; the
 * executor process never crashes.
 */
const job = 'test/jobs/malformed-output.js';
const partitions = 2;
const values = Array.from({ length: 400 }, (_, i) => `v${i}`);
const problem = 'outputs[0]: op must be one of hincrby, incrby, hset, set, sadd, rpush, got "incr"';

/** A fresh topic holding `values` round robin, then `malformed` on partition 1 at the returned offset. */
async function topicWithMalformedRecord(prefix: string): Promise<{ topic: string; offset: number }> {
  const topic = uniqueName(prefix);
  await createTopic(topic, partitions);
  await produceValues(topic, values, partitions);
  await produceToPartition(topic, 1, ['malformed', 'v-after']);
  return { topic, offset: values.length / partitions };
}

describe('outputs the sink cannot commit', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('dead-letter: the dead-letter queue holds exactly that record and everything else commits exactly once', async () => {
    const { topic, offset } = await topicWithMalformedRecord('bad-output-dlq');
    const run = sluice(['run', ...jobArgs(job, topic), '--executors', '1', '--until', 'latest', '--batch-interval-ms', '200'], {
      SLUICE_DEAD_LETTER_POLICY: 'dead-letter',
      SLUICE_DEAD_LETTER_MAX_ATTEMPTS: '2',
      SLUICE_DRIVER_RETRY_BACKOFF_MS: '50',
    });
    await run.succeeds(90_000);

    expect(await checkpoint(client, topic)).toEqual(await endOffsets(topic));
    assertExactlyOnce(await auditCounts(client, topic), [...values, 'v-after']);
    const entries = await listDeadLetters(topic);
    expect(entries.map((e) => [e.id, deadLetterValue(e), e.letter.reason, e.letter.error])).toEqual([
      [`${topic}:1:${offset}`, 'malformed', 'output', problem],
    ]);
  });

  it('fail (default): the driver stops naming the topic, partition, offset and field; the executor lives on', async () => {
    const { topic, offset } = await topicWithMalformedRecord('bad-output-fail');
    const grpcPort = await freePort();
    const executor = sluice(['executor', ...jobArgs(job, topic), '--driver', `127.0.0.1:${grpcPort}`], {
      SLUICE_EXECUTOR_HEARTBEAT_INTERVAL_MS: '200',
    });
    const driver = sluice(['driver', ...jobArgs(job, topic), '--grpc-port', String(grpcPort), '--until', 'latest'], {
      SLUICE_DRIVER_MAX_TASK_FAILURES: '2',
      SLUICE_DRIVER_RETRY_BACKOFF_MS: '50',
    });
    const { code } = await driver.exit(60_000);
    expect(code).toBe(1);
    expect(driver.stderr).toContain(
      `[SLUICE_PROCESS_FAILED] job '${topic}' process returned an invalid output on ${topic}-1 at offset ${offset} ` +
        `(chunk [0, ${offset + 2})): ${problem}`
    );
    expect(driver.stderr).not.toContain('SLUICE_NO_EXECUTORS');
    // Partition 1 stopped before the record; nothing of it was written.
    const stored = (await checkpoint(client, topic))[`${topic}:1`];
    expect(stored === undefined || Number(stored) <= offset).toBe(true);
    expect((await auditCounts(client, topic)).has('malformed')).toBe(false);
    expect(executor.child.exitCode).toBeNull();
    expect(executor.child.signalCode).toBeNull();
    expect(executor.stderr).not.toMatch(/TypeError|unhandled/i);
  });
});
