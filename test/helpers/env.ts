import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..');
export const brokers = (): string => process.env.KAFKA_BROKERS as string;
export const redisUrl = (): string => process.env.REDIS_URL as string;

/** A name no other test (or earlier run) uses: topics and job names (hence Redis key prefixes). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
