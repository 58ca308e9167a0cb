import type Redis from 'ioredis';
import { FencedError, SluiceError, CheckpointConflictError } from '../errors';
import type { RedisWrite } from '../job/types';
import type { BatchSummary } from '../checkpoint/types';
import { jobKeys } from '../checkpoint/keys';
import { Reply } from '../checkpoint/replies';
import type { ScriptedRedis } from '../checkpoint/scripts';
import { encodeWrites } from '../checkpoint/write-args';
import { redisWritesProblem } from '../sinks/outputs';
import type { BlockInfo } from './blocks';

/** Redis keys of receiver mode, inside the job's hash tag (so every script is legal on Redis Cluster). */
export function blockKeys(job: string): {
  blocks: string;
  unallocated: string;
  planned: string;
  done: string;
  wal(receiver: string): string;
} {
  const prefix = `sluice:{${job}}:`;
  return {
    blocks: `${prefix}blocks`,
    unallocated: `${prefix}blocks:unallocated`,
    planned: `${prefix}blocks:planned`,
    done: `${prefix}blocks:done`,
    wal: (receiver) => `${prefix}wal:${receiver}`,
  };
}

/** A batch of blocks as allocated (and stored before any block task is sent). */
export interface BlockBatch {
  id: number;
  epoch: string;
  time: number;
  blocks: BlockInfo[];
}

export type BlockCommitOutcome = 'committed' | 'skipped';

/**
 * The Redis side of receiver mode: the write-ahead log (a stream per receiver), the driver's block
 * log, the allocation of blocks to batches and their commits. Every state change is one Lua script
 * (record-block-3, allocate-blocks-4, commit-block-n, commit-block-batch-n).
 */
export class BlockLog {
  readonly keys: ReturnType<typeof blockKeys>;
  private readonly redis: ScriptedRedis;
  private readonly jobKeys: ReturnType<typeof jobKeys>;

  /** `client` must come from a CheckpointStore (its scripts registered). */
  constructor(client: Redis, job: string) {
    this.redis = client as ScriptedRedis;
    this.keys = blockKeys(job);
    this.jobKeys = jobKeys(job);
  }

  /**
   * Appends a block's records to its receiver's write-ahead log; with `replicas`, waits until that
   * many replicas hold it (WAIT).
   * @returns the entry id.
   * @throws SluiceError SLUICE_REDIS_UNAVAILABLE-like failures of the client; SLUICE_BLOCK_LOST is not raised here.
   */
  async appendToLog(receiver: string, blockId: string, data: Buffer, replicas: number, timeoutMs: number): Promise<string> {
    const entry = await this.redis.xaddBuffer(this.keys.wal(receiver), '*', 'block', blockId, 'data', data);
    if (entry === null) throw new SluiceError('SLUICE_REDIS_UNAVAILABLE', `write-ahead log of ${receiver}: XADD returned no entry id`);
    if (replicas > 0) {
      const acknowledged = await this.redis.wait(replicas, timeoutMs);
      if (acknowledged < replicas) {
        throw new SluiceError(
          'SLUICE_REDIS_UNAVAILABLE',
          `write-ahead log of ${receiver}: block ${blockId} reached ${acknowledged} of ${replicas} replicas within ${timeoutMs} ms (receiver.walReplicas)`,
          { retriable: true }
        );
      }
    }
    return entry.toString();
  }

  /** A block's records as logged, or null when the entry is gone (trimmed, never written). */
  async readFromLog(receiver: string, entry: string): Promise<Buffer | null> {
    const entries = (await this.redis.xrangeBuffer(this.keys.wal(receiver), entry, entry)) as Array<[Buffer, Buffer[]]>;
    const fields = entries[0]?.[1];
    if (!fields) return null;
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]?.toString() === 'data') return fields[i + 1] as Buffer;
    return null;
  }

  /** Bytes the write-ahead logs of `receivers` take in Redis now (MEMORY USAGE), and their entries. */
  async logSize(receiver: string): Promise<{ entries: number; bytes: number }> {
    const key = this.keys.wal(receiver);
    const [entries, bytes] = await Promise.all([this.redis.xlen(key), this.redis.memory('USAGE', key)]);
    return { entries, bytes: Number(bytes ?? 0) };
  }

  /** @returns false when the block was recorded before (a repeated report). */
  async record(epoch: string, block: BlockInfo): Promise<boolean> {
    const { keys } = this;
    const raw = await this.redis.recordBlock(this.jobKeys.epoch, keys.blocks, keys.unallocated, epoch, block.id, JSON.stringify(block));
    return new Reply('recordBlock', raw).decode({
      recorded: () => true,
      known: () => false,
      fenced: (r) => {
        throw new FencedError(BigInt(epoch), r.nullable(1));
      },
    });
  }

  /**
   * Allocates every recorded, unallocated block to batch `id` and stores the batch as planned.
   * @returns null when a batch is planned already (it must run first: {@link planned}).
   */
  async allocate(epoch: string, id: number, time: number): Promise<BlockBatch | null> {
    const k = this.keys;
    const raw = await this.redis.allocateBlocks(
      this.jobKeys.epoch,
      k.planned,
      k.unallocated,
      this.jobKeys.committed,
      epoch,
      String(id),
      String(time)
    );
    const ids = new Reply('allocateBlocks', raw).decode<string[] | null>({
      allocated: (r) => Array.from({ length: r.length - 1 }, (_, i) => r.text(i + 1)),
      planned: () => null,
      fenced: (r) => {
        throw new FencedError(BigInt(epoch), r.nullable(1));
      },
      'not-next': (r) => {
        throw new CheckpointConflictError(`batch ${id} does not follow the last committed batch ${r.text(1)}`, { batchId: id });
      },
    });
    return ids === null ? null : { id, epoch, time, blocks: await this.blocks(ids) };
  }

  /** The batch allocated and not committed yet, if any (a new driver runs it again). */
  async planned(): Promise<BlockBatch | null> {
    const fields = await this.redis.hgetall(this.keys.planned);
    if (fields.id === undefined) return null;
    const ids = Object.keys(fields)
      .filter((f) => f.startsWith('block:'))
      .map((f) => f.slice('block:'.length));
    const blocks = await this.blocks(ids);
    // In the order received: ids end in their receiver's sequence number.
    blocks.sort((a, b) => a.receiver.localeCompare(b.receiver) || Number(a.id.split('.').pop()) - Number(b.id.split('.').pop()));
    return { id: Number(fields.id), epoch: fields.epoch ?? '', time: Number(fields.time ?? 0), blocks };
  }

  /** Blocks recorded and not allocated yet. */
  async unallocated(): Promise<number> {
    return this.redis.llen(this.keys.unallocated);
  }

  /** Blocks of the planned batch already done: id -> lost or not. */
  async done(): Promise<Map<string, { lost: boolean; records: number; bytes: number }>> {
    const fields = await this.redis.hgetall(this.keys.done);
    return new Map(
      Object.entries(fields).map(([id, value]) => {
        const parts = value.split(' ');
        const lost = parts[0] === 'lost';
        const [records, bytes] = (lost ? parts.slice(1) : parts).map(Number);
        return [id, { lost, records: records ?? 0, bytes: bytes ?? 0 }];
      })
    );
  }

  /**
   * Applies a block's sink writes and marks it done, once (commit-block-n.lua); `lost` marks a
   * block whose records are gone, with no writes.
   * @throws FencedError; SluiceError SLUICE_TASK_OUTSIDE_PLAN when the block is not in the planned batch; SLUICE_PROCESS_FAILED for writes that cannot be applied.
   */
  async commitBlock(options: {
    epoch: string;
    batchId: number;
    block: Pick<BlockInfo, 'id' | 'records' | 'bytes'>;
    writes: RedisWrite[];
    lost?: boolean;
  }): Promise<BlockCommitOutcome> {
    const { epoch, batchId, block, writes } = options;
    const problem = redisWritesProblem(writes);
    if (problem !== undefined)
      throw new SluiceError('SLUICE_PROCESS_FAILED', `block ${block.id}: sink output cannot be applied: ${problem}`);
    const keys = [this.jobKeys.epoch, this.keys.planned, this.keys.done, this.keys.blocks];
    const args = encodeWrites(writes, { keys, keyIndex: new Map(), outputKey: (key) => this.jobKeys.output(key) });
    const raw = await this.redis.commitBlock([
      keys.length,
      ...keys,
      epoch,
      String(batchId),
      block.id,
      options.lost ? 'lost' : 'commit',
      String(block.records),
      String(block.bytes),
      String(writes.length),
      ...args,
    ]);
    return new Reply('commitBlock', raw).decode<BlockCommitOutcome>({
      committed: () => 'committed',
      skipped: () => 'skipped',
      fenced: (r) => {
        throw new FencedError(BigInt(epoch), r.nullable(1));
      },
      'outside-plan': (r) => {
        throw new SluiceError(
          'SLUICE_TASK_OUTSIDE_PLAN',
          `block ${block.id} is not in batch ${batchId} as planned (planned: ${r.nullable(1) ?? 'none'})`,
          { details: { batchId, block: block.id } }
        );
      },
      invalid: (r) => {
        throw new SluiceError('SLUICE_PROCESS_FAILED', `block ${block.id}: sink output cannot be applied: ${r.text(1)}`);
      },
    });
  }

  /**
   * Commits the planned batch once every block is done: history and totals (as the direct
   * approach's commit), blocks dropped from the block log, write-ahead logs trimmed past `trims`.
   */
  async commitBatch(batch: BlockBatch, summary: BatchSummary, historySize: number, trims: Map<string, string>): Promise<void> {
    const k = this.keys;
    const j = this.jobKeys;
    const walKeys = [...trims.keys()].map((receiver) => k.wal(receiver));
    const raw = await this.redis.commitBlockBatch([
      7 + walKeys.length,
      j.epoch,
      k.planned,
      k.done,
      k.blocks,
      j.committed,
      j.batches,
      j.totals,
      ...walKeys,
      batch.epoch,
      String(batch.id),
      String(historySize),
      JSON.stringify(summary),
      String(summary.records),
      String(summary.bytes),
      ...[...trims.values()].map(nextEntryId),
    ]);
    new Reply('commitBlockBatch', raw).decode<void>({
      ok: () => undefined,
      fenced: (r) => {
        throw new FencedError(BigInt(batch.epoch), r.nullable(1));
      },
      'not-planned': (r) => {
        throw new CheckpointConflictError(`batch ${batch.id} is not the planned batch (planned: ${r.nullable(1) ?? 'none'})`, {
          batchId: batch.id,
        });
      },
      incomplete: (r) => {
        throw new CheckpointConflictError(`batch ${batch.id} cannot commit: block ${r.text(1)} is not done`, { batchId: batch.id });
      },
    });
  }

  private async blocks(ids: string[]): Promise<BlockInfo[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.hmget(this.keys.blocks, ...ids);
    return values.map((json, i) => {
      if (json === null) throw new CheckpointConflictError(`block ${ids[i]} is allocated but not in the block log`, { block: ids[i] });
      return JSON.parse(json) as BlockInfo;
    });
  }
}

/** The stream entry id right after `entry` (XTRIM MINID keeps it and those after). */
export function nextEntryId(entry: string): string {
  const [ms, seq] = entry.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}
