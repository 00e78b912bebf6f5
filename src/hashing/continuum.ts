/**
 * The sorted array of points shared by the ring algorithms (ketama, the fast ring and bounded
 * loads), with a radix index so that a lookup is a table read plus a short binary search.
 */

/**
 * Largest lookup table: 2^20 entries (4 MiB). The table has about 4 entries per point, so that
 * three quarters of the entries cover no point and answer a lookup with one read.
 */
const MAX_TABLE_BITS = 20;

/**
 * Points of a hash ring in ascending order, each owned by a member number, plus a radix lookup
 * table over the top bits of the hash: entry b is the owner itself (≥ 0) when no point falls in
 * bucket b, so the whole bucket belongs to the next point's owner, or −(first position ≥ bucket
 * start) − 1 when points fall inside, and a short forward scan finds the key's point.
 * @internal
 */
export class Continuum {
  /** Point values, ascending; equal values ordered by owner rank (so ties are deterministic). */
  points: Uint32Array = new Uint32Array(0);
  /** Owner (member number) of each point. */
  owners: Uint32Array = new Uint32Array(0);
  private table: Int32Array = new Int32Array(1);
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
    let bits = 1;
    while (bits < MAX_TABLE_BITS && 1 << bits < n * 4) bits++;
    const size = 1 << bits;
    const shift = 32 - bits;
    const table = new Int32Array(size);
    let p = 0;
    for (let b = 0; b < size; b++) {
      const start = b * 2 ** shift;
      const end = start + 2 ** shift;
      while (p < n && points[p]! < start) p++;
      if (n === 0) table[b] = 0;
      else if (p < n && points[p]! < end) table[b] = -p - 1;
      else table[b] = owners[p === n ? 0 : p]!;
    }
    this.table = table;
    this.shift = shift;
  }

  /**
   * Owner (member number) of the first point ≥ h, wrapping past the last (libketama's rule).
   * @param h - the point, signed or unsigned (only the 32 bits count).
   */
  ownerOf(h: number): number {
    const u = h >>> 0;
    const v = this.table[u >>> this.shift]!;
    if (v >= 0) return v;
    const points = this.points;
    let p = -v - 1;
    while (p < points.length && points[p]! < u) p++;
    return this.owners[p === points.length ? 0 : p]!;
  }

  /** Position of the first point ≥ h (signed or unsigned), wrapping to 0 past the last point. */
  position(hash: number): number {
    const h = hash >>> 0;
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  /** Bytes held by the arrays. */
  bytes(): number {
    return this.points.byteLength + this.owners.byteLength + this.table.byteLength;
  }
}
