import type Redis from 'ioredis';
import { uniqueName } from '../helpers/env';
import { assertExactlyOnce } from '../helpers/invariants';
import { createTopic, endOffsets, kcatValues, withProducer } from '../helpers/kafka';
import { killAll, runAuditUntilLatest } from '../helpers/processes';
import { auditCounts, checkpoint, history, redis } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

jest.setTimeout(120_000);

/** Offsets that are not consecutive: transaction markers, aborted records, compaction holes. */
describe('ranges with gaps, end to end', () => {
  let client: Redis;
  beforeAll(() => (client = redis()));
  afterAll(() => client.quit());
  afterEach(killAll);

  const audit = (topic: string): Promise<void> =>
    runAuditUntilLatest(topic, { batchIntervalMs: 200, maxRatePerPartition: 300 }).succeeds(90_000);

  it('delivers committed transactions exactly once and aborted ones never (read_committed)', async () => {
    const topic = uniqueName('txn');
    await createTopic(topic, 2);
    const committed: string[] = [];
    await withProducer(
      async (producer) => {
        for (let t = 0; t < 6; t++) {
          const transaction = await producer.transaction();
          const values = Array.from({ length: 50 }, (_, i) => `${t % 2 === 0 ? 'c' : 'a'}${t}-${i}`);
          await transaction.send({ topic, messages: values.map((value, i) => ({ value, partition: i % 2 })) });
          if (t % 2 === 0) {
            await transaction.commit();
            committed.push(...values);
          } else {
            await transaction.abort();
          }
        }
      },
      { transactionalId: `${topic}-tx`, idempotent: true, maxInFlightRequests: 1 }
    );
    // Markers land just after commit/abort return: wait until the last stable offset covers them.
    await waitFor(async () => (await kcatValues(topic)).length === committed.length || undefined, {
      label: 'transactions visible to kcat',
    });

    await audit(topic);
    assertExactlyOnce(await auditCounts(client, topic), committed);
    // The checkpoint moves past markers and aborted records, up to the last stable offset.
    expect(await checkpoint(client, topic)).toEqual(await endOffsets(topic));
    // Offsets are sparse: more offsets covered than records delivered.
    const batches = await history(client, topic);
    const covered = batches.flatMap((b) => b.ranges).reduce((n, r) => n + Number(BigInt(r.until) - BigInt(r.from)), 0);
    expect(covered).toBeGreaterThan(committed.length);
    expect(batches.reduce((n, b) => n + b.records, 0)).toBe(committed.length);
  });

  it('reads a compacted topic with holes: every surviving record counted once, as kcat reads them', async () => {
    const topic = uniqueName('compact');
    await createTopic(topic, 1, [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'segment.ms', value: '100' },
      { name: 'min.cleanable.dirty.ratio', value: '0.01' },
      { name: 'delete.retention.ms', value: '100' },
    ]);
    // Every round rewrites the shared keys and adds one key of its own, so compaction leaves holes
    // between survivors instead of dropping whole batches.
    await withProducer(async (producer) => {
      for (let round = 0; round < 20; round++) {
        const messages = [
          ...Array.from({ length: 5 }, (_, k) => ({ key: `k${k}`, value: `k${k}-r${round}` })),
          { key: `own-${round}`, value: `own-${round}` },
        ];
        await producer.send({ topic, messages });
        await new Promise((resolve) => setTimeout(resolve, 120)); // let segment.ms roll segments between rounds
      }
    });
    const produced = 20 * 6;
    const survivors = await waitFor(
      async () => {
        const values = await kcatValues(topic);
        return values.length < produced - 40 ? values : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, label: 'log compaction' }
    );

    await audit(topic);
    // The cleaner may still remove records after the job read them, never add any: what kcat reads
    // afterwards is a subset of the output, and the output a subset of what survived before the run.
    const after = await kcatValues(topic);
    const counts = await auditCounts(client, topic);
    expect(after.filter((v) => counts.get(v) !== 1)).toEqual([]);
    expect([...counts.keys()].filter((v) => !survivors.includes(v))).toEqual([]);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(await checkpoint(client, topic)).toEqual(await endOffsets(topic));
  });
});
