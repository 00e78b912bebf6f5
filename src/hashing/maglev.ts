/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
 * NSDI 2016, https://www.usenix.org/conference/nsdi16/technical-sessions/presentation/eisenbud):
 * a lookup table of prime size M filled by every member in turn along its own permutation.
 */
import { badHash, badOption, checkCount, noNodes, normaliseMembers, type NodeWeightLike } from './errors.js';
import { fastRange, murmur3, murmur3i32 } from './hash.js';
import { MemberPlacement } from './placement.js';
import type { ConsistentHash } from './types.js';

/** Options of {@link Maglev}. */
export interface MaglevOptions {
  /**
   * Lookup table size M, a prime larger than the member count. Each member owns ⌊M/n⌋ or ⌈M/n⌉
   * entries, so balance is within 1 + n/M: keep M ≥ 100 · members for peak/average ≤ 1.01.
   * Memory is 4·M bytes and a rebuild costs O(M log M).
   * @default 65537 (the paper's small table size: balance ≤ 1.02 up to 650 members in 256 KiB)
   */
  tableSize?: number;
}

/** Frozen defaults of {@link MaglevOptions}. */
export const MAGLEV_DEFAULTS: Readonly<Required<MaglevOptions>> = Object.freeze({ tableSize: 65537 });

/**
 * Deterministic primality by trial division (table sizes are at most a few million), used to
 * validate {@link MaglevOptions.tableSize}.
 * @example isPrime(65537) // true
 */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev hashing: member i has a permutation of the table (offset and skip from two hashes of its
 * id, skip coprime to the prime M); members take turns claiming their next free entry, in
 * proportion to their weights, until the table is full. A lookup is one hash, a multiply-shift
 * reduction onto the table and one array read.
 *
 * Balance is near perfect (entries per member differ by at most one at equal weights). The price
 * is disruption: a change rebuilds the table and, beyond the keys that must move, moves a few more
 * between unchanged members (the paper measures it; bench/README.md reports it here).
 * @example
 * ```ts
 * const maglev = new Maglev(['a', 'b', 'c'], { tableSize: 65537 });
 * maglev.lookup('user:42');
 * ```
 */
export class Maglev extends MemberPlacement implements ConsistentHash {
  readonly algorithm = 'maglev';
  /** Table size M in effect. */
  readonly tableSize: number;
  private order: string[] = [];
  /**
   * Entry → member number in id order: 1 byte an entry up to 256 members, 2 up to 65536 (128 KiB
   * at the default size, which stays in a core's L2 cache while keys stream through it), else 4.
   */
  private table: Uint8Array | Uint16Array | Uint32Array;
  /**
   * M / 2^32 when M ≤ 2^21: then u · scale is exactly u · M / 2^32 (a product below 2^53), and
   * one multiply reduces a hash onto the table; 0 for larger tables, which take {@link fastRange}.
   * The default M = 65537 takes neither: {@link Maglev.entryOf} reduces it in integers.
   */
  private readonly scale: number;

  /**
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member, bad weight, a table size
   * that is not a prime in 3..2^31, or more members than the table size.
   */
  constructor(nodes?: Iterable<string | NodeWeightLike>, options: MaglevOptions = {}) {
    super();
    const m = options.tableSize ?? MAGLEV_DEFAULTS.tableSize;
    if (!isPrime(m) || m < 3 || m > 2 ** 31) throw badOption('tableSize', 'a prime in 3..2^31', m);
    this.tableSize = m;
    this.scale = m <= 2 ** 21 ? m / 4294967296 : 0;
    this.table = new Uint16Array(0);
    for (const { node, weight } of normaliseMembers(nodes)) this.members.add(node, weight);
    this.rebuild();
  }

  protected options(): Record<string, number | string> {
    return { tableSize: this.tableSize };
  }

  private checkFits(): void {
    if (this.members.size > this.tableSize) {
      throw badOption('tableSize', `larger than the member count (${this.members.size})`, this.tableSize);
    }
  }

  protected override rebuild(): void {
    this.checkFits();
    this.order = this.members.sorted();
    const n = this.order.length;
    const m = this.tableSize;
    if (n === 0) return;
    const offset = new Float64Array(n);
    const skip = new Float64Array(n);
    const next = new Float64Array(n);
    const quota = new Float64Array(n);
    const placed = new Float64Array(n);
    let maxWeight = 0;
    for (let i = 0; i < n; i++) maxWeight = Math.max(maxWeight, this.members.weightOf(this.order[i]!)!);
    for (let i = 0; i < n; i++) {
      const id = this.order[i]!;
      offset[i] = murmur3(id, 0x9a61) % m;
      skip[i] = (murmur3(id, 0x5c1f) % (m - 1)) + 1;
      next[i] = offset[i]!;
      quota[i] = this.members.weightOf(id)! / maxWeight;
    }
    const table = new Uint32Array(m).fill(0xffffffff);
    let filled = 0;
    // Weighted turns as in Envoy's Maglev: in round r, member i may hold up to r·w_i/w_max entries,
    // so the heaviest member claims one entry per round and the others proportionally fewer.
    for (let round = 1; filled < m; round++) {
      for (let i = 0; i < n && filled < m; i++) {
        if (placed[i]! >= round * quota[i]!) continue;
        let c = next[i]!;
        while (table[c] !== 0xffffffff) {
          c += skip[i]!;
          if (c >= m) c -= m;
        }
        table[c] = i;
        c += skip[i]!;
        if (c >= m) c -= m;
        next[i] = c;
        placed[i]!++;
        filled++;
      }
    }
    this.table = n <= 256 ? Uint8Array.from(table) : n <= 65536 ? Uint16Array.from(table) : table;
  }

  lookup(key: string): string {
    if (this.order.length === 0) throw noNodes(this.algorithm);
    return this.order[this.table[this.entryOf(murmur3i32(key))]!]!;
  }

  hashOf(key: string): number {
    return murmur3i32(key);
  }

  lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    if (this.order.length === 0) throw noNodes(this.algorithm);
    return this.order[this.table[this.entryOf(h)]!]!;
  }

  /** The table entry of a hash: ⌊u · M / 2^32⌋ of its unsigned value u (Lemire's reduction). */
  private entryOf(h: number): number {
    if (this.tableSize === 65537) {
      // M = 2^16 + 1 (the default) in integers only: u · M / 2^32 = a + (a + c + c / 2^16) / 2^16
      // for u = a · 2^16 + c, whose floor is a + ((a + c) >> 16) (c / 2^16 < 1 never carries).
      const a = h >>> 16;
      return a + ((a + (h & 0xffff)) >>> 16);
    }
    const scale = this.scale;
    return scale !== 0 ? ((h >>> 0) * scale) >>> 0 : fastRange(h >>> 0, this.tableSize);
  }

  /** Distinct members met walking the table forward from the key's entry. */
  lookupN(key: string, n: number, out: string[] = []): string[] {
    checkCount(n, this.order.length);
    const m = this.tableSize;
    let e = this.entryOf(murmur3i32(key));
    this.members.beginSeen();
    out.length = n;
    let found = 0;
    for (let step = 0; step < m && found < n; step++) {
      const owner = this.table[e]!;
      // Table values are id-order indices below size, which the stamp array always covers.
      if (this.members.see(owner)) out[found++] = this.order[owner]!;
      if (++e === m) e = 0;
    }
    return out;
  }

  /** Table entries owned by each member, by id: the exact balance of the placement. */
  entries(): Map<string, number> {
    const counts = new Map<string, number>(this.order.map((id) => [id, 0]));
    for (let e = 0; e < this.tableSize; e++) {
      const id = this.order[this.table[e]!]!;
      counts.set(id, counts.get(id)! + 1);
    }
    return counts;
  }

  /** Bytes of the lookup table. */
  memoryBytes(): number {
    return this.table.byteLength;
  }
}
