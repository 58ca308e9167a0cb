import { partitionKey, type KafkaClientConfig, type OffsetRange } from '../types';
import { READ_COMMITTED, READ_UNCOMMITTED, groupByLeader, setTargetTopics, type DirectCluster } from './direct-cluster';
import { fetchUntil, type FetchedPartition } from './fetch-response';
import { applyFetch } from './fetch-step';

/**
 * Byte limit of each partition in a probe Fetch: twice the Java producer's default `batch.size`,
 * so the batch that holds the offset usually comes whole. A larger batch comes cut, and its
 * partition is asked again on its own: the first partition of a Fetch always gets its first batch
 * whole, whatever the limit.
 */
export const PROBE_PARTITION_BYTES = 32 * 1024;
/** Fetch rounds at most: transaction markers, aborted records or a cut batch may each take one more. */
const PROBE_ROUNDS = 3;

interface Probe {
  range: OffsetRange;
  next: bigint;
  /** Cut by the byte limit last time: ask for it in a Fetch of its own. */
  alone: boolean;
}

/**
 * Per range, the timestamp of the first record visible (under the cluster's isolation level) at or
 * after `fromOffset` and before `untilOffset`, or null when there is none (only transaction
 * markers, aborted or compacted records). Reads with small Fetches (one per leader, partitions
 * together, no waiting on the broker), so it costs about one record batch per partition. A range
 * missing from the answer could not be read (no leader known, a failed Fetch, more rounds needed):
 * the caller asks again later.
 */
export async function firstRecordTimestamps(
  cluster: DirectCluster,
  config: KafkaClientConfig,
  ranges: OffsetRange[]
): Promise<Map<string, bigint | null>> {
  const found = new Map<string, bigint | null>();
  let open: Probe[] = [];
  for (const range of ranges) {
    if (range.fromOffset < range.untilOffset) open.push({ range, next: range.fromOffset, alone: false });
    else found.set(partitionKey(range), null);
  }
  if (open.length === 0) return found;
  setTargetTopics(cluster, new Set(open.map((p) => p.range.topic)));
  for (let round = 0; round < PROBE_ROUNDS && open.length > 0; round++) {
    await cluster.refreshMetadataIfNecessary();
    const { byLeader } = groupByLeader(cluster, open, (p) => p.range);
    const fetches: Array<[string, Probe[]]> = [];
    for (const [nodeId, probes] of byLeader) {
      const together = probes.filter((p) => !p.alone);
      if (together.length > 0) fetches.push([nodeId, together]);
      for (const p of probes) if (p.alone) fetches.push([nodeId, [p]]);
    }
    const again: Probe[] = [];
    await Promise.all(
      fetches.map(async ([nodeId, probes]) => {
        let fetched: Map<string, FetchedPartition>;
        try {
          fetched = await probeFetch(cluster, config, nodeId, probes);
        } catch {
          // An error of one partition (its leader moved, its records deleted) fails the whole Fetch:
          // the others are asked for on their own next round.
          if (probes.length > 1) for (const probe of probes) again.push({ ...probe, alone: true });
          return;
        }
        for (const probe of probes) {
          const partition = fetched.get(partitionKey(probe.range));
          if (partition === undefined) continue;
          const step = applyFetch(probe.range, probe.next, partition, config.isolation);
          const first = step.records[0];
          if (first !== undefined) found.set(partitionKey(probe.range), first.timestamp);
          else if (step.next >= probe.range.untilOffset) found.set(partitionKey(probe.range), null);
          else {
            // Markers or aborted records only: on from past them. Nothing returned although bytes
            // were: a batch cut by the limit. Nothing at all: the response was full; next round.
            probe.alone = !step.progressed && partition.recordSetBytes > 0;
            probe.next = step.next;
            again.push(probe);
          }
        }
      })
    );
    open = again;
  }
  return found;
}

/** One Fetch of `probes` from their leader: each partition from its probe's offset, at most {@link PROBE_PARTITION_BYTES}. */
async function probeFetch(
  cluster: DirectCluster,
  config: KafkaClientConfig,
  nodeId: string,
  probes: Probe[]
): Promise<Map<string, FetchedPartition>> {
  const topics = new Map<string, Array<{ partition: number; fetchOffset: string; maxBytes: number }>>();
  for (const { range, next } of probes) {
    const list = topics.get(range.topic) ?? [];
    list.push({ partition: range.partition, fetchOffset: next.toString(), maxBytes: PROBE_PARTITION_BYTES });
    topics.set(range.topic, list);
  }
  const response = await fetchUntil(
    await cluster.findBroker({ nodeId }),
    {
      isolationLevel: config.isolation === 'read_committed' ? READ_COMMITTED : READ_UNCOMMITTED,
      // The records are there (the range ends at or below the latest offset): never wait for more.
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: config.fetchMaxBytes,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    },
    new Map(probes.map((p) => [partitionKey(p.range), p.range.untilOffset]))
  );
  const byKey = new Map<string, FetchedPartition>();
  for (const t of response.responses) for (const p of t.partitions) byKey.set(`${t.topicName}:${p.partition}`, p);
  return byKey;
}
