/**
 * Sticky placement of partitions on executors: a partition stays on the executor that last ran it
 * while membership is stable, so that executor's Kafka connection and metadata for it are reused
 * (Spark's consistent placement). When membership changes, only the excess of overloaded executors
 * moves, so a new executor takes a fair share and the rest stays put.
 */
export class StickyAssignment {
  private readonly owner = new Map<string, string>();

  /**
   * The executor for `partition` among `alive`, avoiding `excluded` (executors that already failed
   * this task) unless nothing else is left.
   */
  pick(partition: string, alive: string[], excluded: ReadonlySet<string> = new Set()): string | undefined {
    const candidates = alive.filter((id) => !excluded.has(id));
    const pool = candidates.length > 0 ? candidates : alive;
    const current = this.owner.get(partition);
    if (current !== undefined && pool.includes(current)) return current;
    const load = this.loadOf(pool);
    const chosen = pool.reduce<string | undefined>(
      (best, id) => (best === undefined || (load.get(id) ?? 0) < (load.get(best) ?? 0) ? id : best),
      undefined
    );
    if (chosen !== undefined) this.owner.set(partition, chosen);
    return chosen;
  }

  /** Forgets placements on executors that are gone and of partitions no longer planned, and trims executors above their fair share. */
  rebalance(partitions: string[], alive: string[]): void {
    const live = new Set(alive);
    const listed = new Set(partitions);
    for (const [partition, id] of this.owner) if (!live.has(id) || !listed.has(partition)) this.owner.delete(partition);
    if (alive.length === 0) return;
    const fairShare = Math.ceil(partitions.length / alive.length);
    const owned = new Map<string, string[]>();
    for (const partition of partitions) {
      const id = this.owner.get(partition);
      if (id === undefined) continue;
      if (owned.has(id)) owned.get(id)?.push(partition);
      else owned.set(id, [partition]);
    }
    for (const list of owned.values()) for (const partition of list.slice(fairShare)) this.owner.delete(partition);
  }

  private loadOf(ids: string[]): Map<string, number> {
    const load = new Map(ids.map((id) => [id, 0]));
    for (const id of this.owner.values()) if (load.has(id)) load.set(id, (load.get(id) ?? 0) + 1);
    return load;
  }
}
