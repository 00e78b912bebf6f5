import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_SLOT_COUNT,
  SlotTable,
  assignSlots,
  diffSlots,
  slotOf,
  slotQuotas,
  type SlotAssignment,
} from '../../src/hashing/index.js';

const members = fc.uniqueArray(
  fc.record({ node: fc.stringMatching(/^[a-z]{1,6}$/), weight: fc.integer({ min: 1, max: 8 }) }),
  { minLength: 1, maxLength: 20, selector: (m) => m.node },
);

function counts(a: SlotAssignment): Map<string, number> {
  const c = new Map<string, number>(a.nodes.map((n) => [n, 0]));
  for (const o of a.owners) c.set(a.nodes[o]!, c.get(a.nodes[o]!)! + 1);
  return c;
}

describe('assignSlots', () => {
  it('defaults to 16384 slots owned in contiguous ranges, in id order', () => {
    const a = assignSlots(['c', 'a', 'b']);
    expect(a.owners).toHaveLength(DEFAULT_SLOT_COUNT);
    expect(a.nodes).toEqual(['a', 'b', 'c']);
    expect([...counts(a).values()]).toEqual([5462, 5461, 5461]);
    for (let s = 1; s < a.owners.length; s++) expect(a.owners[s]!).toBeGreaterThanOrEqual(a.owners[s - 1]!);
  });

  it('gives every member exactly its quota, and quotas follow weights', () => {
    fc.assert(
      fc.property(members, fc.integer({ min: 20, max: 5000 }), (list, slotCount) => {
        const a = assignSlots(list, { slotCount });
        const quotas = slotQuotas(
          [...list].sort((x, y) => (x.node < y.node ? -1 : 1)),
          slotCount,
        );
        expect([...counts(a).values()]).toEqual(quotas);
        const total = list.reduce((s, m) => s + m.weight, 0);
        list.forEach((m) => {
          expect(Math.abs(counts(a).get(m.node)! - (slotCount * m.weight) / total)).toBeLessThan(1);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('moves exactly the sum of shortfalls (the minimum) and only from departed or surplus owners', () => {
    fc.assert(
      fc.property(members, members, (before, after) => {
        const a = assignSlots(before, { slotCount: 2048 });
        const b = assignSlots(after, { previous: a, slotCount: 2048 });
        const held = counts(a);
        const afterCounts = counts(b);
        let shortfall = 0;
        for (const [node, q] of afterCounts) shortfall += Math.max(0, q - (held.get(node) ?? 0));
        const moves = diffSlots(a, b);
        expect(moves).toHaveLength(shortfall);
        for (const m of moves) {
          // A slot leaves only a departed member or a member now above its quota.
          const stays = afterCounts.has(m.from);
          if (stays) expect(held.get(m.from)!).toBeGreaterThan(afterCounts.get(m.from)!);
          expect(afterCounts.get(m.to)!).toBeGreaterThan(held.get(m.to) ?? 0);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('is deterministic: same members and previous give the same owners, in any order', () => {
    fc.assert(
      fc.property(members, (list) => {
        const a = assignSlots(list, { slotCount: 1000 });
        const b = assignSlots([...list].reverse(), { slotCount: 1000 });
        expect(Array.from(a.owners)).toEqual(Array.from(b.owners));
      }),
      { numRuns: 30 },
    );
  });

  it('adding a fourth equal member moves a quarter of the slots, all to it', () => {
    const a = assignSlots(['a', 'b', 'c']);
    const b = assignSlots(['a', 'b', 'c', 'd'], { previous: a });
    const moves = diffSlots(a, b);
    expect(moves).toHaveLength(4096);
    expect(new Set(moves.map((m) => m.to))).toEqual(new Set(['d']));
  });

  it('rejects bad input with TENURE_INVALID_ARGUMENT', () => {
    const bad = (f: () => unknown, reason: string) =>
      expect(f).toThrow(
        expect.objectContaining({
          code: 'TENURE_INVALID_ARGUMENT',
          details: expect.objectContaining({ reason }),
        }),
      );
    bad(() => assignSlots([]), 'no-nodes');
    bad(() => assignSlots(['a', 'a']), 'duplicate-node');
    bad(() => assignSlots([{ node: 'a', weight: 0 }]), 'bad-weight');
    bad(() => assignSlots(['a', 'b', 'c'], { slotCount: 2 }), 'bad-option');
    bad(() => assignSlots(['a'], { slotCount: 1.5 }), 'bad-option');
    bad(
      () => assignSlots(['a'], { previous: assignSlots(['a'], { slotCount: 8 }), slotCount: 16 }),
      'bad-option',
    );
    bad(
      () => diffSlots(assignSlots(['a'], { slotCount: 8 }), assignSlots(['a'], { slotCount: 16 })),
      'bad-option',
    );
    bad(() => slotQuotas([], 16), 'no-nodes');
    bad(() => slotQuotas(['a', 'a'], 16), 'duplicate-node');
    bad(() => slotQuotas([{ node: 'a', weight: -1 }], 16), 'bad-weight');
    bad(() => slotQuotas(['a'], -1), 'bad-option');
    expect(slotQuotas(['a', { node: 'b', weight: 3 }], 8)).toEqual([2, 6]);
    expect(slotQuotas(['a', 'b'], 0)).toEqual([0, 0]);
  });
});

describe('SlotTable', () => {
  it('looks keys up through their slot and moves only the needed slots on add/remove', () => {
    const t = new SlotTable(['a', 'b', 'c', 'd']);
    expect(t.lookup('user:1')).toBe(t.assignment.nodes[t.assignment.owners[slotOf('user:1')]!]);
    const before = t.assignment;
    t.remove('b');
    const moves = diffSlots(before, t.assignment);
    expect(moves).toHaveLength(4096);
    expect(new Set(moves.map((m) => m.from))).toEqual(new Set(['b']));
    t.add('e', 3);
    expect(counts(t.assignment).get('e')).toBe(8192);
  });
});
