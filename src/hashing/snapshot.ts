/**
 * Rebuilding a placement from its {@link HashSnapshot}, in this or another process.
 */
import { badSnapshot } from './errors.js';
import { JumpHash } from './jump.js';
import { Maglev } from './maglev.js';
import { MementoHash } from './memento.js';
import { BoundedLoadRing, HashRing, KetamaRing } from './ring.js';
import { Rendezvous } from './rendezvous.js';
import { SlotTable } from './slots.js';
import type { ConsistentHash, HashSnapshot } from './types.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Rebuilds the placement a {@link HashSnapshot} describes: same algorithm, options, members,
 * bucket numbering and live state, hence the same mapping. Accepts the parsed JSON.
 * @throws TenureError `TENURE_CORRUPT` if the snapshot is not one this version understands;
 * `TENURE_INVALID_ARGUMENT` if its members or options are invalid.
 * @example
 * ```ts
 * const copy = restore(JSON.parse(JSON.stringify(ring.snapshot())));
 * copy.lookup('k') === ring.lookup('k'); // true
 * ```
 */
export function restore(snapshot: HashSnapshot | unknown): ConsistentHash {
  if (!isRecord(snapshot) || snapshot.format !== 'tenure.hashing/1')
    throw badSnapshot('has an unknown format');
  const { algorithm, nodes, options, state } = snapshot;
  if (!Array.isArray(nodes) || !isRecord(options)) throw badSnapshot('lacks nodes or options');
  const members = nodes as { node: string; weight: number }[];
  const st = isRecord(state) ? state : {};
  switch (algorithm) {
    case 'ketama':
      return new KetamaRing(members, {
        compatibility: options.compatibility as 'libketama' | 'hashring',
        // Snapshots written before the option existed had libketama's 160.
        pointsPerServer: (options.pointsPerServer as number | undefined) ?? 160,
      });
    case 'ring':
      return new HashRing(members, { pointsPerNode: options.pointsPerNode as number });
    case 'bounded': {
      const ring = new BoundedLoadRing(members, {
        pointsPerNode: options.pointsPerNode as number,
        epsilon: options.epsilon as number,
      });
      const loads = st.loads;
      if (loads !== undefined) {
        if (
          !Array.isArray(loads) ||
          loads.length !== members.length ||
          !loads.every((l) => Number.isInteger(l) && l >= 0)
        ) {
          throw badSnapshot('has bad loads');
        }
        ring.setLoads(
          loads as number[],
          members.map((m) => m.node),
        );
      }
      return ring;
    }
    case 'rendezvous':
      return new Rendezvous(members);
    case 'jump':
      return new JumpHash(members, { ordered: true });
    case 'memento': {
      const buckets = st.buckets;
      const removals = st.removals;
      if (!Array.isArray(buckets) || !Array.isArray(removals)) return new MementoHash(members);
      if (!buckets.every((b) => typeof b === 'string') || !removals.every((r) => Number.isInteger(r))) {
        throw badSnapshot('has bad memento state');
      }
      const holes = buckets.filter((b) => b === '').length;
      if (holes !== removals.length || removals.some((r) => buckets[r as number] !== '')) {
        throw badSnapshot('has memento removals that do not match its buckets');
      }
      return MementoHash.fromState(buckets as string[], removals as number[]);
    }
    case 'maglev':
      return new Maglev(members, { tableSize: options.tableSize as number });
    case 'slots': {
      const table = new SlotTable(members, { slotCount: options.slotCount as number });
      const owners = st.owners;
      if (Array.isArray(owners) && owners.length > 0) {
        if (
          owners.length !== table.slotCount ||
          !owners.every((o) => Number.isInteger(o) && o >= 0 && o < members.length)
        ) {
          throw badSnapshot('has bad slot owners');
        }
        const sorted = table.nodes();
        table.setAssignment({
          nodes: sorted,
          weights: sorted.map((n) => table.weightOf(n)!),
          owners: Uint32Array.from(owners as number[]),
        });
      }
      return table;
    }
    default:
      throw badSnapshot(`names an unknown algorithm ${JSON.stringify(algorithm)}`);
  }
}
