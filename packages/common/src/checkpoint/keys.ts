/**
 * Redis key names of one job. Every key carries the hash tag `{<job>}` so all of a job's keys land
 * in one slot and every multi-key Lua script is legal on Redis Cluster.
 */
export interface JobKeys {
  offsets: string;
  epoch: string;
  leader: string;
  /** Where the lease owner is reached (JSON: a `LeaderInfo`), with the lease's TTL. */
  leaderInfo: string;
  planned: string;
  committed: string;
  batches: string;
  /** Writes of split-range pieces that wait for the pieces before them (see commit-chunks-n.lua). */
  stages: string;
  /** Running totals of committed batches: batches, records, bytes. */
  totals: string;
  /** Records and bytes committed per task range of the batch in flight (see commit-chunks-n.lua). */
  counts: string;
  /** A sink key inside the job's namespace. */
  output(name: string): string;
}

export function jobKeys(job: string): JobKeys {
  const prefix = `sluice:{${job}}:`;
  return {
    offsets: `${prefix}offsets`,
    epoch: `${prefix}epoch`,
    leader: `${prefix}leader`,
    leaderInfo: `${prefix}leader:info`,
    planned: `${prefix}batch:planned`,
    committed: `${prefix}batch:committed`,
    batches: `${prefix}batches`,
    totals: `${prefix}totals`,
    counts: `${prefix}batch:counts`,
    stages: `${prefix}stages`,
    output: (name) => `${prefix}out:${name}`,
  };
}
