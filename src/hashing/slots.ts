/**
 * A fixed table of slots (16384 by default, like Redis Cluster) owned by weighted members, with
 * minimal movement when the members change. The shard manager moves slots, not keys: a key's
 * slot never changes, only the slot's owner.
 */
import { badHash, badOption, checkCount, noNodes, normaliseMembers, type NodeWeightLike } from './errors.js';
import { murmur3i32 } from './hash.js';
import { compareIds } from './members.js';
import { MemberPlacement } from './placement.js';
import type { ConsistentHash, HashSnapshot, Move } from './types.js';

/** Slot count used when none is given: Redis Cluster's 16384 (2^14). */
export const DEFAULT_SLOT_COUNT = 16384;

/** Who owns each slot. */
export interface SlotAssignment {
  /** The members, sorted by id; `owners` holds indices into this list. */
  readonly nodes: readonly string[];
  /** The members' weights, aligned with `nodes`. */
  readonly weights: readonly number[];
  /** Slot → index into `nodes`. */
  readonly owners: Uint32Array;
}

/**
 * The slot of a key: `murmur3(key) mod slotCount`. (Not Redis's CRC16 with hash tags: tenure's
 * slots are its own.)
 * @param slotCount - @default 16384
 * @example slotOf('user:42') // 9077
 */
export function slotOf(key: string, slotCount = DEFAULT_SLOT_COUNT): number {
  return (murmur3i32(key) >>> 0) % slotCount;
}

/**
 * Slots each member should own: ⌊S·w/W⌋, plus one for the members with the largest remainders
 * (ties to the smaller id) until all S slots are owned. Deterministic in every process.
 * @param members - ids or `{ node, weight }` (weight default 1), in the order the quotas are
 *   returned.
 * @throws TenureError `TENURE_INVALID_ARGUMENT` for no members, duplicates, bad weights, or a
 * slot count that is not an integer in 0..2^24.
 * @example slotQuotas([{ node: 'a', weight: 1 }, { node: 'b', weight: 2 }], 10) // [3, 7]
 */
export function slotQuotas(members: Iterable<string | NodeWeightLike>, slotCount: number): number[] {
  const list = normaliseMembers(members);
  if (!Number.isInteger(slotCount) || slotCount < 0 || slotCount > 2 ** 24)
    throw badOption('slotCount', 'an integer in 0..2^24', slotCount);
  if (list.length === 0) throw noNodes('the slot quotas');
  return quotasOf(list, slotCount);
}

/** {@link slotQuotas} of members already checked (at least one, positive finite weights). */
function quotasOf(members: readonly { node: string; weight: number }[], slotCount: number): number[] {
  const total = members.reduce((s, m) => s + m.weight, 0);
  const quotas = members.map((m) => Math.floor((slotCount * m.weight) / total));
  let left = slotCount - quotas.reduce((s, q) => s + q, 0);
  const byRemainder = members
    .map((m, i) => ({ i, rem: (slotCount * m.weight) / total - quotas[i]! }))
    .sort((a, b) => b.rem - a.rem || compareIds(members[a.i]!.node, members[b.i]!.node));
  for (let k = 0; left > 0; k = (k + 1) % byRemainder.length, left--) quotas[byRemainder[k]!.i]!++;
  return quotas;
}

/**
 * Assigns `slotCount` slots to weighted members, moving as few slots as possible from `previous`.
 *
 * Every member ends with exactly its {@link slotQuotas} quota. A slot keeps its owner while that
 * owner is still a member and within its quota; the slots of departed members and the surplus of
 * members above quota (their highest-numbered slots) are freed, then given in ascending order to
 * the members below quota, in id order. The number of moved slots is therefore exactly the sum of
 * the shortfalls, the minimum any assignment meeting the quotas can achieve. From scratch, members
 * get contiguous ranges in id order.
 *
 * @param members - ids or `{ node, weight }` (weight default 1); order does not matter.
 * @param options.previous - the assignment to move from. @default none (fresh assignment)
 * @param options.slotCount - @default 16384, or previous's slot count
 * @throws TenureError `TENURE_INVALID_ARGUMENT` for no members, duplicates, bad weights, a slot
 * count that is not an integer in 1..2^24, more members than slots, or a mismatched previous.
 * @example
 * ```ts
 * const a = assignSlots(['a', 'b', 'c']);
 * const b = assignSlots(['a', 'b', 'c', 'd'], { previous: a });
 * diffSlots(a, b).length; // 4096: d's share, nothing else
 * ```
 */
export function assignSlots(
  members: Iterable<string | NodeWeightLike>,
  options: { previous?: SlotAssignment; slotCount?: number } = {},
): SlotAssignment {
  const list = normaliseMembers(members).sort((a, b) => compareIds(a.node, b.node));
  const previous = options.previous;
  const slotCount = options.slotCount ?? previous?.owners.length ?? DEFAULT_SLOT_COUNT;
  if (!Number.isInteger(slotCount) || slotCount < 1 || slotCount > 2 ** 24) {
    throw badOption('slotCount', 'an integer in 1..2^24', slotCount);
  }
  if (previous !== undefined && previous.owners.length !== slotCount) {
    throw badOption('previous', `an assignment of ${slotCount} slots`, previous.owners.length);
  }
  if (list.length === 0) throw noNodes('the slot table');
  if (list.length > slotCount)
    throw badOption('slotCount', `at least the member count (${list.length})`, slotCount);

  const quotas = quotasOf(list, slotCount);
  const indexOf = new Map(list.map((m, i) => [m.node, i]));
  const owners = new Uint32Array(slotCount);
  const held = new Uint32Array(list.length);
  const FREE = 0xffffffff;
  if (previous === undefined) {
    owners.fill(FREE);
  } else {
    // Keep slots of surviving members; count what each holds.
    for (let s = 0; s < slotCount; s++) {
      const i = indexOf.get(previous.nodes[previous.owners[s]!]!);
      owners[s] = i ?? FREE;
      if (i !== undefined) held[i]!++;
    }
    // Free the surplus of members above quota, highest slots first.
    for (let s = slotCount - 1; s >= 0; s--) {
      const i = owners[s]!;
      if (i !== FREE && held[i]! > quotas[i]!) {
        owners[s] = FREE;
        held[i]!--;
      }
    }
  }
  let member = 0;
  for (let s = 0; s < slotCount; s++) {
    if (owners[s] !== FREE) continue;
    while (held[member]! >= quotas[member]!) member++;
    owners[s] = member;
    held[member]!++;
  }
  return { nodes: list.map((m) => m.node), weights: list.map((m) => m.weight), owners };
}

/**
 * The slots whose owner differs between two assignments of the same slot count, in slot order.
 * @throws TenureError `TENURE_INVALID_ARGUMENT` if the slot counts differ.
 * @example diffSlots(before, after) // [{ key: 12, from: 'a', to: 'd' }, ...]
 */
export function diffSlots(before: SlotAssignment, after: SlotAssignment): Move<number>[] {
  if (before.owners.length !== after.owners.length) {
    throw badOption('after', `an assignment of ${before.owners.length} slots`, after.owners.length);
  }
  const moves: Move<number>[] = [];
  for (let s = 0; s < before.owners.length; s++) {
    const from = before.nodes[before.owners[s]!]!;
    const to = after.nodes[after.owners[s]!]!;
    if (from !== to) moves.push({ key: s, from, to });
  }
  return moves;
}

/** Options of {@link SlotTable}. */
export interface SlotTableOptions {
  /** Number of slots. @default 16384 (Redis Cluster's figure: fine-grained enough for 1000 members, 64 KiB) */
  slotCount?: number;
}

/**
 * The slot table as a {@link ConsistentHash}: key → {@link slotOf} → owner. Each `add`/`remove`
 * reassigns with {@link assignSlots} from the current assignment, so only the necessary slots move.
 * @example
 * ```ts
 * const table = new SlotTable([{ node: 'a', weight: 2 }, 'b']);
 * const before = table.assignment;
 * table.add('c');
 * diffSlots(before, table.assignment); // the slots c took
 * ```
 */
export class SlotTable extends MemberPlacement implements ConsistentHash {
  readonly algorithm = 'slots';
  /** Number of slots. */
  readonly slotCount: number;
  private current: SlotAssignment | undefined;
  /** slotCount − 1 when slotCount is a power of two (a mask replaces the division), else −1. */
  private readonly mask: number;
  /**
   * The current owners (1 byte a slot up to 256 members, 2 up to 65536: 32 KiB at the default slot
   * count, an L1 cache's worth) and members, read by lookups without going through `current`.
   */
  private owners: Uint8Array | Uint16Array | Uint32Array = new Uint8Array(0);
  private ids: readonly string[] = [];

  /**
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for duplicates, bad weights or a bad slot count.
   */
  constructor(nodes?: Iterable<string | NodeWeightLike>, options: SlotTableOptions = {}) {
    super();
    const slotCount = options.slotCount ?? DEFAULT_SLOT_COUNT;
    if (!Number.isInteger(slotCount) || slotCount < 1 || slotCount > 2 ** 24) {
      throw badOption('slotCount', 'an integer in 1..2^24', slotCount);
    }
    this.slotCount = slotCount;
    this.mask = (slotCount & (slotCount - 1)) === 0 ? slotCount - 1 : -1;
    for (const { node, weight } of normaliseMembers(nodes)) this.members.add(node, weight);
    this.rebuild();
  }

  protected options(): Record<string, number | string> {
    return { slotCount: this.slotCount };
  }

  protected override rebuild(): void {
    const list = this.members.sorted().map((node) => ({ node, weight: this.members.weightOf(node)! }));
    this.setAssignment(
      list.length === 0
        ? undefined
        : assignSlots(list, { previous: this.current, slotCount: this.slotCount }),
    );
  }

  /**
   * The current assignment (immutable: changes produce a new one).
   * @throws TenureError `TENURE_INVALID_ARGUMENT` (reason `no-nodes`) when there are no members.
   */
  get assignment(): SlotAssignment {
    if (this.current === undefined) throw noNodes(this.algorithm);
    return this.current;
  }

  lookup(key: string): string {
    if (this.ids.length === 0) throw noNodes(this.algorithm);
    return this.ids[this.owners[this.slotOfHash(murmur3i32(key))]!]!;
  }

  hashOf(key: string): number {
    return murmur3i32(key);
  }

  lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    if (this.ids.length === 0) throw noNodes(this.algorithm);
    return this.ids[this.owners[this.slotOfHash(h)]!]!;
  }

  /** {@link slotOf} of a hash: its unsigned value modulo the slot count. */
  private slotOfHash(h: number): number {
    const mask = this.mask;
    return mask >= 0 ? h & mask : (h >>> 0) % this.slotCount;
  }

  /** Owner of the key's slot, then the owners of the following slots, distinct. */
  lookupN(key: string, n: number, out: string[] = []): string[] {
    checkCount(n, this.members.size);
    const a = this.current!;
    let s = this.slotOfHash(murmur3i32(key));
    out.length = n;
    let found = 0;
    for (let step = 0; step < this.slotCount && found < n; step++) {
      const node = a.nodes[a.owners[s]!]!;
      let dup = false;
      for (let k = 0; k < found; k++) if (out[k] === node) dup = true;
      if (!dup) out[found++] = node;
      if (++s === this.slotCount) s = 0;
    }
    if (found < n) throw badOption('n', `at most ${found} here`, n);
    return out;
  }

  override snapshot(): HashSnapshot {
    const a = this.current;
    return { ...super.snapshot(), state: { owners: a === undefined ? [] : Array.from(a.owners) } };
  }

  /** Bytes of the slot owner tables (the assignment's 4 per slot, and the lookups' 2 or 4). */
  memoryBytes(): number {
    return this.current === undefined ? 0 : this.current.owners.byteLength + this.owners.byteLength;
  }

  /** Installs a restored assignment. @internal */
  setAssignment(assignment: SlotAssignment | undefined): void {
    this.current = assignment;
    const owners = assignment?.owners ?? new Uint32Array(0);
    const members = assignment?.nodes.length ?? 0;
    this.owners =
      members <= 256 ? Uint8Array.from(owners) : members <= 65536 ? Uint16Array.from(owners) : owners;
    this.ids = assignment?.nodes ?? [];
  }
}
