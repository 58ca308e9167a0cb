import type Redis from 'ioredis';
import { Job as BullJob, Queue } from 'bullmq';
import { deadLetterPrefix, deadLetterQueueName } from '@sluice/common';
import { deadLetterValue, listDeadLetters } from '../helpers/dlq';
import { uniqueName } from '../helpers/env';
import { createTopic, endOffsets, produceValues, withProducer } from '../helpers/kafka';
import { jobArgs, killAll, sluice } from '../helpers/processes';
import { auditCounts, checkpoint, redis } from '../helpers/redis';

jest.setTimeout(180_000);

const job = 'test/jobs/poison-audit.js';
const partitions = 3;
const values = Array.from({ length: 3000 }, (_, i) => `v${i}`);
const isPoison = (v: string): boolean => Number(v.slice(1)) % 100 === 50;
const big = `big-${'x'.repeat(2000)}`;

/** Partition and offset of `v<i>` as produceValues places them on a fresh topic (round robin). */
const coordinates = (i: number): { partition: number; offset: number } => ({
  partition: i % partitions,
  offset: Math.floor(i / partitions),
});

describe('poison records', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  it('dead-letters exactly the poison records, commits the rest once, and a replay after the fix completes the audit exactly once', async () => {
    const topic = uniqueName('dlq');
    await createTopic(topic, partitions);
    await produceValues(topic, values, partitions);
    await withProducer((p) =>
      p.send({
        topic,
        acks: -1,
        messages: [
          { value: big, partition: 0 },
          { value: 'undecodable-1', partition: 1 },
        ],
      })
    );
    const poison = [...values.filter(isPoison), big, 'undecodable-1'];
    const good = values.filter((v) => !isPoison(v));

    const env = {
      POISON: '1',
      SLUICE_DEAD_LETTER_MAX_ATTEMPTS: '2',
      SLUICE_DEAD_LETTER_MAX_RECORD_BYTES: '1000',
      SLUICE_DRIVER_RETRY_BACKOFF_MS: '50',
    };
    const run = sluice(['run', ...jobArgs(job, topic), '--executors', '1', '--until', 'latest', '--batch-interval-ms', '200'], env);
    await run.succeeds(120_000);

    // The range committed past the poison records; only the good records counted, each once.
    expect(await checkpoint(client, topic)).toEqual(await endOffsets(topic));
    const counts = await auditCounts(client, topic);
    expect(new Set(counts.keys())).toEqual(new Set(good));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    // The queue holds exactly the poison records, with their coordinates, reason and attempts.
    const entries = await listDeadLetters(topic);
    expect(entries.map(deadLetterValue).sort()).toEqual([...poison].sort());
    for (const e of entries) {
      const v = deadLetterValue(e);
      expect(e.id).toBe(`${e.letter.topic}:${e.letter.partition}:${e.letter.offset}`);
      expect(e.state).toBe('waiting');
      if (v === big) expect(e.letter.reason).toBe('oversized');
      else if (v.startsWith('undecodable'))
        expect(e.letter).toMatchObject({ reason: 'decode', attempts: 2, error: 'cannot decode undecodable-1' });
      else {
        const { partition, offset } = coordinates(Number(v.slice(1)));
        expect(e.letter).toMatchObject({
          topic,
          partition,
          offset: String(offset),
          reason: 'process',
          attempts: 2,
          error: `poison value ${v}`,
        });
      }
    }
    const human = sluice(['dlq', 'list', '--name', topic, '--limit', '3']);
    await human.succeeds(30_000);
    expect(human.stdout).toContain(`dead-letter queue of ${topic}: ${poison.length} not replayed`);

    // Replay with the job fixed (POISON unset): every record counted exactly once.
    const replay = sluice(['dlq', 'replay', '--job', job, '--name', topic]);
    await replay.succeeds(60_000);
    expect(replay.stdout).toContain(`replayed ${poison.length} dead letters`);
    const all = [...values, big, 'undecodable-1'];
    const after = await auditCounts(client, topic);
    expect(new Set(after.keys())).toEqual(new Set(all));
    expect([...after.values()].every((n) => n === 1)).toBe(true);
    expect((await listDeadLetters(topic)).length).toBe(0);

    // A second replay finds nothing to do; an entry sent back to waiting (as after a crash between
    // the commit and BullMQ's completion) is recognised as replayed and applies nothing.
    const again = sluice(['dlq', 'replay', '--job', job, '--name', topic]);
    await again.succeeds(60_000);
    expect(again.stdout).toContain('replayed 0 dead letters');
    const connection = client.duplicate();
    const queue = new Queue(deadLetterQueueName(topic), { connection, prefix: deadLetterPrefix(topic) });
    try {
      const entry = await BullJob.fromId(queue, entries[0]?.id as string);
      await entry?.retry('completed');
    } finally {
      await queue.close();
      await connection.quit();
    }
    const third = sluice(['dlq', 'replay', '--job', job, '--name', topic]);
    await third.succeeds(60_000);
    expect(third.stdout).toContain('replayed 0 dead letters of');
    expect(third.stdout).toContain('(1 already replayed before)');
    expect(await auditCounts(client, topic)).toEqual(after);

    const purge = sluice(['dlq', 'purge', '--name', topic]);
    await purge.succeeds(30_000);
    expect(purge.stdout).toContain(`purged ${poison.length} dead letters`);
    expect(await client.keys(`${deadLetterPrefix(topic)}:*`)).toEqual([]);
  });

  it("policy fail: the run exits 1 naming the topic, partition and offset of the partition's first poison record", async () => {
    const topic = uniqueName('dlq-fail');
    await createTopic(topic, partitions);
    await produceValues(topic, values, partitions);
    const env = {
      POISON: '1',
      SLUICE_DEAD_LETTER_POLICY: 'fail',
      SLUICE_DRIVER_MAX_TASK_FAILURES: '2',
      SLUICE_DRIVER_RETRY_BACKOFF_MS: '50',
    };
    const run = sluice(['run', ...jobArgs(job, topic), '--executors', '1', '--until', 'latest'], env);
    const { code } = await run.exit(120_000);
    expect(code).toBe(1);
    const match = new RegExp(`process failed on ${topic}-(\\d) at offset (\\d+)`).exec(run.stderr);
    expect(match).not.toBeNull();
    const [, partition, offset] = match as unknown as [string, string, string];
    const firstPoison = values.findIndex((v, i) => isPoison(v) && coordinates(i).partition === Number(partition));
    expect(Number(offset)).toBe(coordinates(firstPoison).offset);
    expect(run.stderr).toContain(`poison value v${firstPoison}`);
    // Nothing of the failing partition was committed past its first poison record.
    const stored = (await checkpoint(client, topic))[`${topic}:${partition}`];
    expect(stored === undefined || Number(stored) <= Number(offset)).toBe(true);
    // No dead letters under `fail`.
    expect(await listDeadLetters(topic)).toEqual([]);
  });
});
