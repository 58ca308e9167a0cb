import type { BatchPlan, OffsetSkip } from './types';

/** A plan as stored in the `plan` field of batch:planned: offsets as decimal strings. */
interface SerializedPlan {
  id: number;
  epoch: string;
  time: number;
  ranges: Array<{ topic: string; partition: number; from: string; until: string }>;
  skips?: Array<{ topic: string; partition: number; checkpoint: string; from: string; lost: string; reason: OffsetSkip['reason'] }>;
}

/** The plan's JSON; a plan without skips has no `skips` field. */
export function planToJson(plan: BatchPlan): string {
  const { skips, ...rest } = plan;
  const serialized: SerializedPlan = {
    ...rest,
    ranges: plan.ranges.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      from: String(r.fromOffset),
      until: String(r.untilOffset),
    })),
  };
  if (skips && skips.length > 0) {
    serialized.skips = skips.map((k) => ({
      topic: k.topic,
      partition: k.partition,
      checkpoint: String(k.checkpoint),
      from: String(k.from),
      lost: String(k.lost),
      reason: k.reason,
    }));
  }
  return JSON.stringify(serialized);
}

/** The plan `planToJson` stored. */
export function planFromJson(json: string): BatchPlan {
  const plan = JSON.parse(json) as SerializedPlan;
  return {
    ...plan,
    ranges: plan.ranges.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      fromOffset: BigInt(r.from),
      untilOffset: BigInt(r.until),
    })),
    skips: plan.skips?.map((k) => ({
      topic: k.topic,
      partition: k.partition,
      checkpoint: BigInt(k.checkpoint),
      from: BigInt(k.from),
      lost: BigInt(k.lost),
      reason: k.reason,
    })),
  };
}
