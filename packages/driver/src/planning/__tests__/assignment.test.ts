import { StickyAssignment } from '../assignment';

const partitions = (n: number, topic = 't'): string[] => Array.from({ length: n }, (_, i) => `${topic}:${i}`);

/** Picks every partition in order and returns the placement, partition -> executor. */
function placeAll(assignment: StickyAssignment, parts: string[], alive: string[]): Record<string, string | undefined> {
  return Object.fromEntries(parts.map((p) => [p, assignment.pick(p, alive)]));
}

function loads(placement: Record<string, string | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of Object.values(placement)) if (id !== undefined) out[id] = (out[id] ?? 0) + 1;
  return out;
}

describe('StickyAssignment.pick', () => {
  it('spreads new partitions to the least-loaded executor, ties going to the first alive', () => {
    const a = new StickyAssignment();
    expect(placeAll(a, partitions(5), ['e1', 'e2'])).toEqual({ 't:0': 'e1', 't:1': 'e2', 't:2': 'e1', 't:3': 'e2', 't:4': 'e1' });
  });

  it('keeps a partition on its executor while membership is stable, batch after batch', () => {
    const a = new StickyAssignment();
    const alive = ['e1', 'e2', 'e3'];
    const first = placeAll(a, partitions(7), alive);
    for (let batch = 0; batch < 5; batch++) {
      a.rebalance(partitions(7), alive);
      // Asked in a different order each time: placement must not depend on it.
      const order = batch % 2 === 0 ? [...partitions(7)].reverse() : partitions(7);
      expect(Object.fromEntries(order.map((p) => [p, a.pick(p, alive)]))).toEqual(first);
    }
    // Membership listed in another order is the same membership.
    expect(placeAll(a, partitions(7), ['e3', 'e1', 'e2'])).toEqual(first);
  });

  it('chooses the least-loaded executor for a new partition, counting only alive executors', () => {
    const a = new StickyAssignment();
    placeAll(a, partitions(4), ['e1', 'e2']); // e1: t:0, t:2; e2: t:1, t:3
    expect(a.pick('t:4', ['e1', 'e2', 'e3'])).toBe('e3');
    expect(a.pick('t:5', ['e1', 'e2', 'e3'])).toBe('e3');
    // e3 now has 2 like the others: the tie goes to the first listed.
    expect(a.pick('t:6', ['e2', 'e1', 'e3'])).toBe('e2');
  });

  it('returns undefined when no executor is alive, and remembers nothing', () => {
    const a = new StickyAssignment();
    expect(a.pick('t:0', [])).toBeUndefined();
    expect(a.pick('t:0', [], new Set(['e1']))).toBeUndefined();
    expect(a.pick('t:1', ['e1', 'e2'])).toBe('e1');
    expect(a.pick('t:0', ['e1', 'e2'])).toBe('e2');
  });

  describe('excluded executors (those that already failed the task)', () => {
    it('moves the partition off an excluded owner to the least-loaded other executor, and it stays there', () => {
      const a = new StickyAssignment();
      placeAll(a, partitions(4), ['e1', 'e2', 'e3']); // e1: t:0, t:3; e2: t:1; e3: t:2
      expect(a.pick('t:0', ['e1', 'e2', 'e3'], new Set(['e1']))).toBe('e2');
      expect(a.pick('t:0', ['e1', 'e2', 'e3'])).toBe('e2');
    });

    it('avoids excluded executors for a new partition even when they are the least loaded', () => {
      const a = new StickyAssignment();
      placeAll(a, partitions(2), ['e2', 'e3']); // e2: t:0; e3: t:1; e1 idle
      expect(a.pick('t:2', ['e1', 'e2', 'e3'], new Set(['e1']))).toBe('e2');
    });

    it('uses an excluded executor when nothing else is alive', () => {
      const a = new StickyAssignment();
      expect(a.pick('t:0', ['e1'], new Set(['e1']))).toBe('e1');
      expect(a.pick('t:1', ['e1', 'e2'], new Set(['e1', 'e2']))).toBe('e2');
      // Excluding executors that are not alive changes nothing.
      expect(a.pick('t:0', ['e1', 'e2'], new Set(['e9']))).toBe('e1');
    });
  });
});

describe('StickyAssignment.rebalance', () => {
  it('forgets partitions that are no longer planned, so they do not count as load', () => {
    const a = new StickyAssignment();
    for (const p of ['t:0', 't:1', 't:2', 't:3']) a.pick(p, ['e1', 'e2']);
    a.rebalance(['u:0', 'u:1', 'u:2'], ['e1', 'e2', 'e3']);
    expect(['u:0', 'u:1', 'u:2'].map((p) => a.pick(p, ['e1', 'e2', 'e3']))).toEqual(['e1', 'e2', 'e3']);
  });

  it('after an executor leaves, reassigns only its partitions, to the least-loaded survivors', () => {
    const a = new StickyAssignment();
    const parts = partitions(9);
    const before = placeAll(a, parts, ['e1', 'e2', 'e3']);
    expect(loads(before)).toEqual({ e1: 3, e2: 3, e3: 3 });

    a.rebalance(parts, ['e1', 'e3']);
    const after = placeAll(a, parts, ['e1', 'e3']);
    for (const p of parts) if (before[p] !== 'e2') expect(after[p]).toBe(before[p]);
    const moved = parts.filter((p) => before[p] === 'e2');
    expect(moved).toEqual(['t:1', 't:4', 't:7']);
    expect(moved.map((p) => after[p])).toEqual(['e1', 'e3', 'e1']);
    expect(loads(after)).toEqual({ e1: 5, e3: 4 });
  });

  it('after a new executor joins, moves only the excess above ceil(P/E) of each overloaded executor, and keeps the rest put', () => {
    const a = new StickyAssignment();
    const parts = partitions(6);
    const before = placeAll(a, parts, ['e1', 'e2']); // e1: t:0, t:2, t:4; e2: t:1, t:3, t:5
    expect(loads(before)).toEqual({ e1: 3, e2: 3 });

    const alive = ['e1', 'e2', 'e3'];
    a.rebalance(parts, alive); // fair share ceil(6/3) = 2
    const after = placeAll(a, parts, alive);
    expect(after).toEqual({ 't:0': 'e1', 't:1': 'e2', 't:2': 'e1', 't:3': 'e2', 't:4': 'e3', 't:5': 'e3' });
    expect(parts.filter((p) => after[p] !== before[p])).toEqual(['t:4', 't:5']);
  });

  it('with an uneven split, trims only executors above ceil(P/E)', () => {
    const a = new StickyAssignment();
    const parts = partitions(7);
    const before = placeAll(a, parts, ['e1', 'e2']); // e1: 4 (t:0, t:2, t:4, t:6); e2: 3
    expect(loads(before)).toEqual({ e1: 4, e2: 3 });

    const alive = ['e1', 'e2', 'e3'];
    a.rebalance(parts, alive); // fair share ceil(7/3) = 3: only e1's last partition moves
    const after = placeAll(a, parts, alive);
    expect(parts.filter((p) => after[p] !== before[p])).toEqual(['t:6']);
    expect(after['t:6']).toBe('e3');
    expect(loads(after)).toEqual({ e1: 3, e2: 3, e3: 1 });
  });

  it('moves nothing when every executor is within its fair share', () => {
    const a = new StickyAssignment();
    const parts = partitions(5);
    const before = placeAll(a, parts, ['e1', 'e2', 'e3']); // 2, 2, 1
    a.rebalance(parts, ['e1', 'e2', 'e3']);
    expect(placeAll(a, parts, ['e1', 'e2', 'e3'])).toEqual(before);
  });

  it('an executor that leaves and comes back does not get its old partitions back by itself', () => {
    const a = new StickyAssignment();
    const parts = partitions(4);
    placeAll(a, parts, ['e1', 'e2']);
    a.rebalance(parts, ['e1']);
    expect(placeAll(a, parts, ['e1'])).toEqual({ 't:0': 'e1', 't:1': 'e1', 't:2': 'e1', 't:3': 'e1' });
    a.rebalance(parts, ['e1', 'e2']); // fair share 2: e1 keeps t:0, t:1
    expect(placeAll(a, parts, ['e1', 'e2'])).toEqual({ 't:0': 'e1', 't:1': 'e1', 't:2': 'e2', 't:3': 'e2' });
  });

  it('with no executor alive forgets every placement', () => {
    const a = new StickyAssignment();
    const parts = partitions(3);
    placeAll(a, parts, ['e1', 'e2']);
    a.rebalance(parts, []);
    expect(placeAll(a, parts, ['e2', 'e1'])).toEqual({ 't:0': 'e2', 't:1': 'e1', 't:2': 'e2' });
  });
});
