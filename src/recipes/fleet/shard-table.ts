/**
 * The shard table: the committed assignment of slots to members, one store key per group
 * (`shards/<group>/table`), replaced only by compare-and-swap on its mod revision. Each new table
 * is computed from the previous one with the hashing module's {@link assignSlots}, so only the
 * slots whose owner must change move, and every process that reads the same table agrees on
 * every slot's intended owner.
 *
 * Its key and encoding are in shard-layout.ts.
 * @internal
 */
import { assignSlots, type SlotAssignment } from '../../hashing/index.js';

// The table's codec lives with the rest of the group's layout; re-exported for existing importers.
export { decodeTable, encodeTable, type ShardTable } from './shard-layout.js';

/** A live member as the planner sees it. */
export interface Participant {
  readonly id: string;
  readonly weight: number;
}

/** True when the table's members and weights equal `live`'s. */
export function sameMembers(table: SlotAssignment | undefined, live: readonly Participant[]): boolean {
  if (table === undefined || table.nodes.length !== live.length) return false;
  const byId = new Map(live.map((p) => [p.id, p.weight]));
  return table.nodes.every((id, i) => byId.get(id) === table.weights[i]);
}

/** The next table for `live`, moving as little as possible from `previous`. */
export function nextTable(
  previous: SlotAssignment | undefined,
  live: readonly Participant[],
  slotCount: number,
): SlotAssignment {
  return assignSlots(
    live.map((p) => ({ node: p.id, weight: p.weight })),
    previous === undefined ? { slotCount } : { previous, slotCount },
  );
}
