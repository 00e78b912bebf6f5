/**
 * The sorted array of points shared by the ring algorithms (ketama, the fast ring and bounded
 * loads), with a radix index so that a lookup is a table read plus a short binary search.
 */

/** Largest index: 2^18 entries (1 MiB); beyond that the index stops fitting in L2 and stops paying off. */
const MAX_INDEX_BITS = 18;

/**
 * Points of a hash ring in ascending order, each owned by a member number.
 * @internal
 */
export class Continuum {
  /** Point values, ascending; equal values ordered by owner rank (so ties are deterministic). */
  points: Uint32Array = new Uint32Array(0);
  /** Owner (member number) of each point. */
  owners: Uint32Array = new Uint32Array(0);
  /** index[b] = first position whose point is ≥ b << shift; index[2^bits] = points.length. */
  private index: Uint32Array = new Uint32Array(2);
  private shift = 31;

  /**
   * Rebuilds from `packed`: each entry is point * 2^21 + rank (rank < 2^21, the owner's position in
   * id order), which sorts by point then by owner id with one numeric typed-array sort. `ownerOfRank`
   * maps a rank to the member number stored in `owners`.
   */
  build(packed: Float64Array, ownerOfRank: ArrayLike<number>): void {
    packed.sort();
    const n = packed.length;
    const points = new Uint32Array(n);
    const owners = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = packed[i]!;
      const rank = v % 2097152;
      points[i] = (v - rank) / 2097152;
      owners[i] = ownerOfRank[rank]!;
    }
    this.points = points;
    this.owners = owners;
    // About one point per index bucket keeps the binary search to one or two probes.
    let bits = 1;
    while (bits < MAX_INDEX_BITS && 1 << bits < n) bits++;
    const size = 1 << bits;
    const shift = 32 - bits;
    const index = new Uint32Array(size + 1);
    let p = 0;
    for (let b = 0; b < size; b++) {
      const start = b * 2 ** shift;
      while (p < n && points[p]! < start) p++;
      index[b] = p;
    }
    index[size] = n;
    this.index = index;
    this.shift = shift;
  }

  /** Position of the first point ≥ h, wrapping to 0 past the last point (libketama's rule). */
  position(h: number): number {
    const b = h >>> this.shift;
    let lo = this.index[b]!;
    let hi = this.index[b + 1]!;
    const points = this.points;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  /** Bytes held by the arrays. */
  bytes(): number {
    return this.points.byteLength + this.owners.byteLength + this.index.byteLength;
  }
}
