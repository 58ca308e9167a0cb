import { readFileSync, rmSync } from 'node:fs';
import { withAdmin } from './kafka';

/** Deletes the topics the run created (see `recordTestTopic`); best effort, a failure is only reported. */
export default async function globalTeardown(): Promise<void> {
  const file = process.env.SLUICE_TEST_TOPICS_FILE;
  if (!file) return;
  const topics = [
    ...new Set(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((t) => t !== '')
    ),
  ];
  rmSync(file, { force: true });
  try {
    await withAdmin(async (admin) => {
      // Some tests delete their topics themselves: asking again would fail the whole request.
      const existing = new Set(await admin.listTopics());
      const left = topics.filter((t) => existing.has(t));
      for (let i = 0; i < left.length; i += 100) await admin.deleteTopics({ topics: left.slice(i, i + 100), timeout: 30_000 });
    });
  } catch (e) {
    process.stderr.write(`test teardown: could not delete ${topics.length} test topics: ${(e as Error).message}\n`);
  }
}
