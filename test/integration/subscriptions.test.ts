import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { createTopic, produceValues, withAdmin } from '../helpers/kafka';
import { killAll, sluice, type SluiceProcess } from '../helpers/processes';
import { auditCounts, checkpoint, history, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

const values = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** `sluice run` of the audit example under job `name`, subscribed as the environment says. */
function audit(name: string, args: string[], env: NodeJS.ProcessEnv = {}): SluiceProcess {
  return sluice(['run', '--job', 'examples/audit', '--name', name, '--executors', '1', '--batch-interval-ms', '200', ...args], env);
}

async function deleteRecordsBefore(topic: string, partition: number, offset: number): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords needs the leaders known
    await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(offset) }] });
  });
}

describe('subscriptions and data loss', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  describe('records deleted (retention) before they were processed', () => {
    let topic: string;
    beforeEach(async () => {
      topic = uniqueName('loss');
      await createTopic(topic, 1);
      await produceValues(topic, values('a', 100), 1);
      await audit(topic, ['--topics', topic, '--until', 'latest']).succeeds();
      await produceValues(topic, values('b', 100), 1); // offsets 100..199
      await deleteRecordsBefore(topic, 0, 150); // 100..149 gone before the job read them
    });

    it('default: exits 1 with SLUICE_DATA_LOSS naming the partition, the checkpoint and the earliest offset', async () => {
      const run = audit(topic, ['--topics', topic, '--until', 'latest']);
      expect((await run.exit()).code).toBe(1);
      expect(run.stderr).toContain(`sluice: [SLUICE_DATA_LOSS] data loss on ${topic}-0 at offset 100: offsets below 150 were deleted`);
      expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '100' });
    });

    it('failOnDataLoss=false: skips to the earliest offset, every remaining record exactly once, the loss counted', async () => {
      const run = audit(topic, ['--topics', topic, '--until', 'latest'], { SLUICE_JOB_FAIL_ON_DATA_LOSS: 'false', LOG_LEVEL: 'warn' });
      await run.succeeds();
      const counts = await auditCounts(client, topic);
      const expected = [...values('a', 100), ...values('b', 100).slice(50)];
      expect([...counts.keys()].sort()).toEqual(expected.sort());
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
      expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '200' });
      const batches = await history(client, topic);
      expect(batches.reduce((n, b) => n + (b.lostRecords ?? 0), 0)).toBe(50);
      expect(run.stderr).toMatch(/data loss: .*:0 offsets \[100, 150\) were deleted before they were processed; skipping to 150/);
    });
  });

  it('partitions added and topics matching the pattern created while the job runs join from their earliest offset', async () => {
    const prefix = uniqueName('pat');
    const name = `${prefix}-job`;
    const first = `${prefix}-a`;
    await createTopic(first, 1);
    await produceValues(first, values('a0', 20), 1);
    const run = audit(name, [], { SLUICE_JOB_PATTERN: `${prefix}-[a-z]` });
    const counted = (n: number) =>
      waitFor(async () => ((await auditCounts(client, name)).size >= n ? true : undefined), { timeoutMs: 30_000, label: `${n} values` });
    await counted(20);

    await withAdmin((admin) => admin.createPartitions({ topicPartitions: [{ topic: first, count: 2 }] }));
    await produceValues(first, values('a1', 20), 2); // spread over both partitions
    await counted(40);

    const second = `${prefix}-b`;
    await createTopic(second, 2);
    await produceValues(second, values('b', 30), 2);
    await createTopic(`${prefix}-nomatch-1`, 1); // does not match the whole-name pattern
    await produceValues(`${prefix}-nomatch-1`, values('x', 5), 1);
    await counted(70);
    run.kill('SIGTERM');
    await run.succeeds();

    const counts = await auditCounts(client, name);
    expect([...counts.keys()].sort()).toEqual([...values('a0', 20), ...values('a1', 20), ...values('b', 30)].sort());
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(Object.keys(await checkpoint(client, name)).sort()).toEqual([`${first}:0`, `${first}:1`, `${second}:0`, `${second}:1`]);
  });

  describe('a topic deleted (and recreated) while the job runs', () => {
    it('default: the job stops with SLUICE_DATA_LOSS naming the topic', async () => {
      const topic = uniqueName('deleted');
      await createTopic(topic, 1);
      await produceValues(topic, values('a', 10), 1);
      const run = audit(topic, ['--topics', topic]);
      await waitFor(async () => ((await auditCounts(client, topic)).size === 10 ? true : undefined), {
        timeoutMs: 30_000,
        label: 'counted',
      });
      await withAdmin((admin) => admin.deleteTopics({ topics: [topic] }));
      expect((await run.exit(30_000)).code).toBe(1);
      expect(run.stderr).toContain(`sluice: [SLUICE_DATA_LOSS] subscribed topic(s) deleted while the job ran: ${topic}`);
    });

    it('failOnDataLoss=false: dropped with a warning, then restarted at the earliest offset of the recreated topic', async () => {
      const topic = uniqueName('recreated');
      await createTopic(topic, 1);
      await produceValues(topic, values('old', 20), 1);
      const run = audit(topic, ['--topics', topic], { SLUICE_JOB_FAIL_ON_DATA_LOSS: 'false' });
      await waitFor(async () => ((await auditCounts(client, topic)).size === 20 ? true : undefined), {
        timeoutMs: 30_000,
        label: 'counted',
      });
      await withAdmin((admin) => admin.deleteTopics({ topics: [topic] }));
      await run.waitForOutput(/subscribed topic\(s\) deleted: left out of the batches/);
      await createTopic(topic, 1);
      await produceValues(topic, values('new', 5), 1); // fewer than the checkpoint (20): detectably a new topic
      await waitFor(async () => ((await auditCounts(client, topic)).size === 25 ? true : undefined), {
        timeoutMs: 30_000,
        label: 'recounted',
      });
      await run.waitForOutput(/checkpoint 20 is beyond the latest offset \(topic recreated\?\); restarting at its earliest offset 0/);
      run.kill('SIGTERM');
      await run.succeeds();
      const counts = await auditCounts(client, topic);
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
      expect(await checkpoint(client, topic)).toEqual({ [`${topic}:0`]: '5' });
    });
  });
});
