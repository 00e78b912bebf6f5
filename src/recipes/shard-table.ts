/**
 * The shard table: the committed assignment of slots to members, one store key per group
 * (`shards/<group>/table`), replaced only by compare-and-swap on its mod revision. Each new table
 * is computed from the previous one with the hashing module's {@link assignSlots}, so only the
 * slots whose owner must change move, and every process that reads the same table agrees on
 * every slot's intended owner.
 *
 * Encoding: JSON with the members (id, weight) and the owners run-length encoded, which keeps a
 * fresh table (contiguous ranges) to a few hundred bytes and a churned 16384-slot table well
 * under the stores' 1 MiB value limit.
 * @internal
 */
import { assignSlots, type SlotAssignment } from '../hashing/index.js';
import { TenureError } from '../errors.js';

/** A decoded table. */
export interface ShardTable extends SlotAssignment {
  /** Membership revision the table was computed from: a writer with an older view must not replace it. */
  readonly membersRevision: number;
  /** The table key's mod revision (0: no table yet). */
  readonly modRevision: number;
}

/** A live member as the planner sees it. */
export interface Participant {
  readonly id: string;
  readonly weight: number;
}

const decoder = new TextDecoder();

/** Serialises a table. */
export function encodeTable(a: SlotAssignment, membersRevision: number): string {
  const runs: number[] = [];
  for (let s = 0; s < a.owners.length;) {
    const owner = a.owners[s]!;
    let end = s + 1;
    while (end < a.owners.length && a.owners[end] === owner) end++;
    runs.push(owner, end - s);
    s = end;
  }
  return JSON.stringify({ v: 1, nodes: a.nodes, weights: a.weights, runs, membersRevision });
}

/** Parses a table; throws TENURE_CORRUPT if it is not one of ours or has the wrong slot count. */
export function decodeTable(bytes: Uint8Array, slotCount: number, modRevision: number): ShardTable {
  try {
    const t = JSON.parse(decoder.decode(bytes)) as {
      v: number;
      nodes: string[];
      weights: number[];
      runs: number[];
      membersRevision: number;
    };
    if (t.v !== 1) throw new Error(`unknown table version ${String(t.v)}`);
    const owners = new Uint32Array(slotCount);
    let s = 0;
    for (let i = 0; i < t.runs.length; i += 2) {
      const owner = t.runs[i]!;
      const len = t.runs[i + 1]!;
      if (owner >= t.nodes.length || s + len > slotCount) throw new Error('run out of range');
      owners.fill(owner, s, s + len);
      s += len;
    }
    if (s !== slotCount) throw new Error(`table has ${s} slots, the manager has ${slotCount}`);
    return { nodes: t.nodes, weights: t.weights, owners, membersRevision: t.membersRevision, modRevision };
  } catch (err) {
    throw new TenureError(
      'TENURE_CORRUPT',
      `the shard table is unreadable (${(err as Error).message}): every member of a group must use the same slotCount`,
      { cause: err },
    );
  }
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
