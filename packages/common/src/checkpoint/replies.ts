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

/** follow-offsets-2.lua: the offsets moved. */
export type FollowOffsetsReply =
  { status: 'ok'; moved: Array<{ field: string; from: string | null; to: string }> } | { status: 'fenced'; currentEpoch: string | null };

/** replay-dead-letter-n.lua. */
export type ReplayDeadLetterReply = { status: 'committed' } | { status: 'skipped' } | { status: 'invalid'; reason: string };

/** The reply of one script, read field by field; any deviation from the documented shape is {@link unexpected}. */
export class Reply {
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

  /** How many values the reply holds, its tag included. */
  get length(): number {
    return this.values.length;
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

  /** The reply decoded by the case for its tag; a tag without a case is unexpected. */
  decode<T>(cases: Record<string, (reply: Reply) => T>): T {
    const decodeCase = Object.hasOwn(cases, this.tag) ? cases[this.tag] : undefined;
    if (decodeCase === undefined) throw this.unexpected();
    return decodeCase(this);
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

const ok = (): { status: 'ok' } => ({ status: 'ok' });
const fenced = (r: Reply): { status: 'fenced'; currentEpoch: string | null } => ({ status: 'fenced', currentEpoch: r.nullable(1) });

const commitChunk = (raw: unknown): CommitChunkReply =>
  new Reply('commitChunks', raw).decode<CommitChunkReply>({
    committed: (r) => ({ status: 'committed', until: r.text(1) }),
    staged: () => ({ status: 'staged' }),
    skipped: (r) => ({ status: 'skipped', stored: r.nullable(1) }),
    fenced,
    'outside-plan': (r) => ({ status: 'outside-plan', plannedId: r.nullable(1), plannedRange: r.nullable(2), until: r.text(3) }),
    invalid: (r) => ({ status: 'invalid', reason: r.text(1) }),
  });

export const decodeReply = {
  /** One reply per entry sent, in order. */
  commitChunks(raw: unknown, entries: number): CommitChunkReply[] {
    if (!Array.isArray(raw) || raw.length !== entries) throw unexpectedReply('commitChunks', raw);
    return raw.map(commitChunk);
  },

  writePlan: (raw: unknown): WritePlanReply =>
    new Reply('writePlan', raw).decode<WritePlanReply>({
      ok,
      fenced,
      'skip-conflict': (r) => ({ status: 'skip-conflict', field: r.text(1), stored: r.nullable(2), expected: r.text(3) }),
    }),

  commitBatch: (raw: unknown): CommitBatchReply =>
    new Reply('commitBatch', raw).decode<CommitBatchReply>({
      ok,
      fenced,
      'not-planned': (r) => ({ status: 'not-planned', plannedId: r.nullable(1) }),
      incomplete: (r) => ({ status: 'incomplete', field: r.text(1), stored: r.nullable(2) }),
    }),

  followOffsets: (raw: unknown): FollowOffsetsReply =>
    new Reply('followOffsets', raw).decode<FollowOffsetsReply>({
      ok: (r) => {
        const moved: Array<{ field: string; from: string | null; to: string }> = [];
        for (let i = 1; i < r.length; i += 3) moved.push({ field: r.text(i), from: r.text(i + 1) || null, to: r.text(i + 2) });
        return { status: 'ok', moved };
      },
      fenced,
    }),

  replayDeadLetter: (raw: unknown): ReplayDeadLetterReply =>
    new Reply('replayDeadLetter', raw).decode<ReplayDeadLetterReply>({
      committed: () => ({ status: 'committed' }),
      skipped: () => ({ status: 'skipped' }),
      invalid: (r) => ({ status: 'invalid', reason: r.text(1) }),
    }),
};
