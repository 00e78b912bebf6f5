/**
 * Weighted rendezvous hashing, also called highest random weight (Thaler and Ravishankar, 1998,
 * https://doi.org/10.1109/90.663936): every member scores the key and the best score wins.
 */
import { badHash, checkCount, noNodes, normaliseMembers, type NodeWeightLike } from './errors.js';
import { fmix32i, murmur3, murmur3i32 } from './hash.js';
import { MemberPlacement } from './placement.js';
import type { ConsistentHash } from './types.js';

/**
 * Weighted rendezvous (HRW) hashing. Member i scores a key `w_i / -ln(u)`, where `u ∈ (0, 1)` is
 * a hash of (key, member): the logarithmic method, under which member i wins with probability
 * exactly `w_i / Σw` (Schindelhauer and Schomaker, "Weighted distributed hash tables", SPAA 2005;
 * https://www.snia.org/sites/default/files/SDC15_presentations/dist_sys/Jason_Resch_New_Consistent_Hashings_Rev.pdf).
 *
 * Removing a member moves only its keys, each to its second-best member; adding one takes only
 * the keys it now wins. `lookupN` returns the top-n scores, which keeps that property for replicas.
 * A lookup costs O(members): it suits tens to a few thousand members. When all weights are equal
 * the logarithm is skipped (the order of `u` is the order of the scores).
 * @example
 * ```ts
 * const hrw = new Rendezvous([{ node: 'big', weight: 2 }, 'small']);
 * hrw.lookup('user:42');
 * ```
 */
export class Rendezvous extends MemberPlacement implements ConsistentHash {
  readonly algorithm = 'rendezvous';
  // Dense arrays in id order, rebuilt on change, so the scoring loop reads typed memory only.
  private order: string[] = [];
  private seeds = new Uint32Array(0);
  private logWeights = new Float64Array(0);
  private uniform = true;
  private top = new Float64Array(0);
  private topIdx = new Int32Array(0);

  /**
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member or bad weight.
   */
  constructor(nodes?: Iterable<string | NodeWeightLike>) {
    super();
    for (const { node, weight } of normaliseMembers(nodes)) this.members.add(node, weight);
    this.rebuild();
  }

  protected options(): Record<string, number | string> {
    return {};
  }

  protected override rebuild(): void {
    this.order = this.members.sorted();
    const n = this.order.length;
    this.seeds = new Uint32Array(n);
    this.logWeights = new Float64Array(n);
    const first = n > 0 ? this.members.weightOf(this.order[0]!)! : 1;
    this.uniform = true;
    this.order.forEach((id, i) => {
      this.seeds[i] = murmur3(id, 0x5eed);
      const w = this.members.weightOf(id)!;
      this.logWeights[i] = w;
      if (w !== first) this.uniform = false;
    });
  }

  /** Score of member i for key hash h; larger wins. */
  private score(h: number, i: number): number {
    const x = fmix32i(h ^ this.seeds[i]!) >>> 0;
    if (this.uniform) return x;
    // u in (0, 1): never 0 (log would be -∞) nor 1 (division by zero).
    const u = (x + 0.5) / 4294967296;
    return this.logWeights[i]! / -Math.log(u);
  }

  lookup(key: string): string {
    if (this.order.length === 0) throw noNodes(this.algorithm);
    return this.owner(murmur3i32(key));
  }

  hashOf(key: string): number {
    return murmur3i32(key);
  }

  lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    if (this.order.length === 0) throw noNodes(this.algorithm);
    return this.owner(h);
  }

  /** The member with the best score for hash h (signed or unsigned: only the bits count). */
  private owner(h: number): string {
    const n = this.order.length;
    let best = 0;
    let bestScore = -1;
    if (this.uniform) {
      const seeds = this.seeds;
      for (let i = 0; i < n; i++) {
        const x = fmix32i(h ^ seeds[i]!) >>> 0;
        // Strict > keeps the lowest id on a tie, in every process.
        if (x > bestScore) {
          bestScore = x;
          best = i;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const s = this.score(h, i);
        if (s > bestScore) {
          bestScore = s;
          best = i;
        }
      }
    }
    return this.order[best]!;
  }

  lookupN(key: string, n: number, out: string[] = []): string[] {
    const size = this.order.length;
    checkCount(n, size);
    if (this.top.length < n) {
      this.top = new Float64Array(n);
      this.topIdx = new Int32Array(n);
    }
    const top = this.top;
    const idx = this.topIdx;
    const h = murmur3i32(key);
    let filled = 0;
    // Insertion into a sorted top-n buffer: O(size · n) worst case, O(size) typically.
    for (let i = 0; i < size; i++) {
      const s = this.score(h, i);
      if (filled === n && s <= top[n - 1]!) continue;
      let j = filled < n ? filled++ : n - 1;
      while (j > 0 && top[j - 1]! < s) {
        top[j] = top[j - 1]!;
        idx[j] = idx[j - 1]!;
        j--;
      }
      top[j] = s;
      idx[j] = i;
    }
    out.length = n;
    for (let k = 0; k < n; k++) out[k] = this.order[idx[k]!]!;
    return out;
  }
}
