/**
 * The demo's slot ownership, until the ShardManager recipe is available: the leader assigns a
 * small slot table among the live members with the hashing module's minimal-movement assignment
 * and publishes it, fenced by its term, where the dashboard shows slot maps.
 */
import { assignSlots, slotQuotas, type SlotAssignment } from '../../hashing/slots.js';

/** Slots in the demo's table: few enough to see each one on the dashboard. */
export const DEMO_SLOT_COUNT = 64;

/** How a slot map is stored (JSON). */
export interface StoredSlotMap {
  readonly epoch: number;
  /** Owner of each slot. */
  readonly owners: readonly string[];
}

/** Rebuilds an assignment from its stored form. */
export function fromStored(map: StoredSlotMap): SlotAssignment {
  const nodes = [...new Set(map.owners)].sort();
  const index = new Map(nodes.map((n, i) => [n, i]));
  return { nodes, weights: nodes.map(() => 1), owners: Uint32Array.from(map.owners, (o) => index.get(o)!) };
}

/** Owner of each slot of an assignment. */
export function ownersOf(a: SlotAssignment): string[] {
  return Array.from(a.owners, (i) => a.nodes[i]!);
}

/**
 * The fewest slots any assignment meeting every member's quota must move from `previous`:
 * every slot except those a surviving member can keep within its new quota.
 */
export function idealMoves(previous: readonly string[], members: readonly string[]): number {
  const sorted = [...members].sort();
  const quotas = slotQuotas(
    sorted.map((node) => ({ node, weight: 1 })),
    previous.length,
  );
  const held = new Map<string, number>();
  for (const o of previous) held.set(o, (held.get(o) ?? 0) + 1);
  const kept = sorted.reduce((sum, m, i) => sum + Math.min(held.get(m) ?? 0, quotas[i]!), 0);
  return previous.length - kept;
}

/** Slots a naive `slot mod n` placement would move for the same change, for comparison. */
export function moduloMoves(before: readonly string[], after: readonly string[], slotCount: number): number {
  const a = [...before].sort();
  const b = [...after].sort();
  let moved = 0;
  for (let s = 0; s < slotCount; s++) if (a[s % a.length] !== b[s % b.length]) moved++;
  return moved;
}

/** The next assignment for `members`, moving as few slots as possible from `previous`. */
export function reassign(members: readonly string[], previous: StoredSlotMap | undefined): string[] {
  const prev = previous && previous.owners.length === DEMO_SLOT_COUNT ? fromStored(previous) : undefined;
  return ownersOf(assignSlots(members, { previous: prev, slotCount: DEMO_SLOT_COUNT }));
}
