/**
 * The demo's slots, as the ShardManager keeps them in the store, and the yardsticks the report
 * measures their movement against.
 */
import { slotQuotas } from '../../hashing/slots.js';
import { TenureError } from '../../errors.js';
import { describe, groupPrefix, tableKey } from '../../recipes/fleet/shard-layout.js';
import type { Store } from '../../store/types.js';
import { DEMO_GROUP } from './names.js';

/** Slots in the demo's table: few enough to see each one on the dashboard. */
export const DEMO_SLOT_COUNT = 64;

/** The group's slots at one store revision. */
export interface SlotState {
  readonly revision: number;
  /** Members the committed table assigns slots to, sorted (empty before the first table). */
  readonly tableMembers: readonly string[];
  /** Owner each slot is assigned to by the table. */
  readonly planned: readonly (string | undefined)[];
  /** Member holding each slot's key now (undefined while it moves). */
  readonly holders: readonly (string | undefined)[];
}

/**
 * Reads the ShardManager's table and slot keys of the demo's group in one transaction, decoded by
 * the shard layout.
 * @throws TenureError `TENURE_CORRUPT` when the table is unreadable.
 */
export async function readSlots(store: Store, slotCount = DEMO_SLOT_COUNT): Promise<SlotState> {
  const { kvs, revision } = await store.range(groupPrefix(DEMO_GROUP));
  const d = describe(kvs, { group: DEMO_GROUP, slotCount });
  const bad = d.undecoded.find((u) => u.key === tableKey(DEMO_GROUP));
  if (bad) throw new TenureError('TENURE_CORRUPT', bad.reason);
  return {
    revision,
    tableMembers: d.table?.nodes ?? [],
    planned: d.slots.map((x) => x.planned),
    holders: d.slots.map((x) => x.holder),
  };
}

/** True when the table is over exactly `members` and every slot is held by its planned owner. */
export function settledOver(state: SlotState, members: readonly string[]): boolean {
  const want = [...members].sort();
  return (
    state.tableMembers.length === want.length &&
    state.tableMembers.every((m, i) => m === want[i]) &&
    state.holders.every((h, i) => h !== undefined && h === state.planned[i])
  );
}

/**
 * The fewest slots any assignment meeting every member's quota must move from `previous`:
 * every slot except those a surviving member can keep within its new quota. For a departure
 * that is the departed member's share; for a join, the newcomer's quota.
 */
export function idealMoves(previous: readonly string[], members: readonly string[]): number {
  if (members.length === 0) return previous.length;
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
