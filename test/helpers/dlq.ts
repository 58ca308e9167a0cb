import type { DeadLetterEntry } from '@sluice/common';
import { sluice } from './processes';

/** The dead-letter queue of job `name` as `sluice dlq list --json` prints it (entries not replayed, oldest first). */
export async function listDeadLetters(name: string): Promise<DeadLetterEntry[]> {
  const list = sluice(['dlq', 'list', '--name', name, '--json', '--limit', '10000']);
  await list.succeeds(30_000);
  return list.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeadLetterEntry);
}

/** The dead-lettered record's value as text. */
export const deadLetterValue = (e: DeadLetterEntry): string => Buffer.from(e.letter.value as string, 'base64').toString('utf8');
