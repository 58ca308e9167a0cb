import { SluiceError } from '../errors';
import type { ScriptName } from './scripts';

/*
 * The replies of the checkpoint scripts, decoded in one place: each script's header documents its
 * replies as Lua tables ({'tag', value, ...}; Lua false arrives as null); each decoder turns one
 * into a discriminated union and refuses any other shape with a coded error.
 */

/** One entry of commit-chunks-n.lua. */
export type CommitChunkReply =
  | { status: 'committed'; until: string }
  | { status: 'staged' }
  | { status: 'skipped'; stored: string | null }
  | { status: 'fenced'; currentEpoch: string | null }
  | { status: 'outside-plan'; plannedId: string | null; plannedRange: string | null; until: string }
  | { status: 'invalid'; reason: string };

/** write-plan-4.lua. */
export type WritePlanReply =
  | { status: 'ok' }
  | { status: 'fenced'; currentEpoch: string | null }
  | { status: 'skip-conflict'; field: string; stored: string | null; expected: string };

/** commit-batch-7.lua. */
export type CommitBatchReply =
  | { status: 'ok' }
  | { status: 'fenced'; currentEpoch: string | null }
  | { status: 'not-planned'; plannedId: string | null }
  | { status: 'incomplete'; field: string; stored: string | null };

/** replay-dead-letter-n.lua. */
export type ReplayDeadLetterReply = { status: 'committed' } | { status: 'skipped' } | { status: 'invalid'; reason: string };

/** The reply of one script, read field by field; any deviation from the documented shape is {@link unexpected}. */
class Reply {
  readonly tag: string;
  private readonly values: unknown[];

  constructor(
    private readonly script: ScriptName,
    private readonly raw: unknown
  ) {
    if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw this.unexpected();
    this.values = raw as unknown[];
    this.tag = raw[0];
  }

  /** The string at `index`. */
  text(index: number): string {
    const value = this.values[index];
    if (typeof value !== 'string') throw this.unexpected();
    return value;
  }

  /** The string at `index`, or null where the script returned false (or nothing). */
  nullable(index: number): string | null {
    const value = this.values[index];
    if (value === null || value === undefined) return null;
    if (typeof value !== 'string') throw this.unexpected();
    return value;
  }

  unexpected(): SluiceError {
    return unexpectedReply(this.script, this.raw);
  }
}

function unexpectedReply(script: ScriptName, raw: unknown): SluiceError {
  const reply = JSON.stringify(raw)?.slice(0, 200) ?? String(raw);
  return new SluiceError(
    'SLUICE_CHECKPOINT_CONFLICT',
    `the Redis script ${script} replied ${reply}, which is none of its documented replies (nothing is assumed of it)`,
    { details: { script, reply } }
  );
}

function commitChunk(raw: unknown): CommitChunkReply {
  const r = new Reply('commitChunks', raw);
  switch (r.tag) {
    case 'committed':
      return { status: 'committed', until: r.text(1) };
    case 'staged':
      return { status: 'staged' };
    case 'skipped':
      return { status: 'skipped', stored: r.nullable(1) };
    case 'fenced':
      return { status: 'fenced', currentEpoch: r.nullable(1) };
    case 'outside-plan':
      return { status: 'outside-plan', plannedId: r.nullable(1), plannedRange: r.nullable(2), until: r.text(3) };
    case 'invalid':
      return { status: 'invalid', reason: r.text(1) };
    default:
      throw r.unexpected();
  }
}

export const decodeReply = {
  /** One reply per entry sent, in order. */
  commitChunks(raw: unknown, entries: number): CommitChunkReply[] {
    if (!Array.isArray(raw) || raw.length !== entries) throw unexpectedReply('commitChunks', raw);
    return raw.map(commitChunk);
  },

  writePlan(raw: unknown): WritePlanReply {
    const r = new Reply('writePlan', raw);
    switch (r.tag) {
      case 'ok':
        return { status: 'ok' };
      case 'fenced':
        return { status: 'fenced', currentEpoch: r.nullable(1) };
      case 'skip-conflict':
        return { status: 'skip-conflict', field: r.text(1), stored: r.nullable(2), expected: r.text(3) };
      default:
        throw r.unexpected();
    }
  },

  commitBatch(raw: unknown): CommitBatchReply {
    const r = new Reply('commitBatch', raw);
    switch (r.tag) {
      case 'ok':
        return { status: 'ok' };
      case 'fenced':
        return { status: 'fenced', currentEpoch: r.nullable(1) };
      case 'not-planned':
        return { status: 'not-planned', plannedId: r.nullable(1) };
      case 'incomplete':
        return { status: 'incomplete', field: r.text(1), stored: r.nullable(2) };
      default:
        throw r.unexpected();
    }
  },

  replayDeadLetter(raw: unknown): ReplayDeadLetterReply {
    const r = new Reply('replayDeadLetter', raw);
    switch (r.tag) {
      case 'committed':
        return { status: 'committed' };
      case 'skipped':
        return { status: 'skipped' };
      case 'invalid':
        return { status: 'invalid', reason: r.text(1) };
      default:
        throw r.unexpected();
    }
  },
};
