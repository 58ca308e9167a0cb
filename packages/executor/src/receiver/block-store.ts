import type { SourceRecord } from '@sluice/common';

/**
 * The records of the blocks this executor received, until their block task applied them (Spark's
 * BlockManager, memory only). Without the write-ahead log this is their only copy.
 */
export class BlockStore {
  private readonly blocks = new Map<string, SourceRecord[]>();

  put(id: string, records: SourceRecord[]): void {
    this.blocks.set(id, records);
  }

  get(id: string): SourceRecord[] | undefined {
    return this.blocks.get(id);
  }

  delete(id: string): void {
    this.blocks.delete(id);
  }

  get size(): number {
    return this.blocks.size;
  }
}
