/**
 * The sorted array of points shared by the ring algorithms (ketama, the fast ring and bounded
 * loads), with lookup tables so that a lookup is usually one read of a table that fits the cache.
 */

/**
 * Largest lookup table: 2^20 entries (4 MiB). The table has about 4 entries per point, so that
 * three quarters of the entries cover no point and answer a lookup with one read.
 */
const MAX_TABLE_BITS = 20;

/**
 * Rings with at least this many points use the split layout (below); smaller ones the owner table.
 */
const SPLIT_POINTS = 16384;

/**
 * Split rings up to this many points (1,638 members at 160 points) also get an owner table in
 * front, of at most 2^{@link SPLIT_TABLE_BITS} entries: at most a quarter of a point a bucket, so
 * that fewer than a quarter of the buckets are mixed. Bigger rings would mostly read it for nothing.
 */
const SPLIT_TABLE_POINTS = 262144;
const SPLIT_TABLE_BITS = 20;

/**
 * Owner-table entries per point (rounded up to a power of two): 1 − e^(−1/8) ≈ 12 % of the buckets
 * are mixed, fewer since a bucket whose points all belong to the next point's member is not. Small
 * rings get twice as many while the table stays within 64 KiB (2^15 entries): 6 % mixed.
 */
const OWNER_ENTRIES_PER_POINT = 8;
const OWNER_TABLE_SMALL_BITS = 15;

const OWNER_TABLE = 0;
const SPLIT = 1;
const DIRECT = 2;
/** Owner-table entries at or above this are mixed buckets: the flag, then a position below 2^15. */
const MIXED = 0x8000;

/** The fewest bits, from `min` up to `max`, whose 2^bits table holds `entries` entries. */
function tableBits(entries: number, min: number, max: number): number {
  let bits = min;
  while (bits < max && 2 ** bits < entries) bits++;
  return bits;
}

/**
 * Points of a hash ring in ascending order, each owned by a member number, plus one of three lookup
 * layouts, chosen by size so that what a lookup reads stays in a core's cache:
 *
 * - owner table (fewer than 16384 points, member numbers below 32768): a 16-bit entry for every
 *   bucket of the top bits of the hash, 8 buckets a point (16 for small rings, up to 2^15
 *   entries): 256 KiB at 16,000 points. Entry b is the owner when every key of bucket b goes to
 *   one member (no point inside, or only points of the member that also owns the next one), so
 *   nearly 9 lookups in 10 are one read of a small table, like Maglev's; {@link MIXED} | p when
 *   the bucket is mixed, p being the first position ≥ the bucket's start, where a forward scan of
 *   the points begins (usually one or two steps).
 * - split (more points, member numbers below 16384): the first position of each of the 16384
 *   buckets of the top 14 bits (64 KiB), and for every point one 32-bit entry, its low 18 bits
 *   above its owner's 14. A lookup reads a bucket's start and end, then scans the bucket's entries
 *   (~10 at 160,000 points, in one or two cache lines), which hold the owner too: where the direct
 *   table of a ring that size (4 MiB, then the points and the owners) cost three cache misses.
 *   Measured while choosing it (N = 1000, lookups as a fraction of the key's hash alone): about
 *   48 %, against 42 % for a 16-bit split (256 KiB of starts) and 25 % for the direct table.
 *   Up to 262,144 points an owner table comes first, 8 entries a point up to 2^20 entries (2 MiB
 *   at 160,000 points, where 14 % of its buckets are mixed): most lookups are one read of it,
 *   and a mixed bucket (just {@link MIXED}) goes on to the split scan. Measured at N = 1000 (random
 *   / sequential keys, as a fraction of the hash alone): 62–64 % / 52–53 % against 54–55 % /
 *   40–41 % for the split alone; 2^19 entries gave 60 % / 49 %, 2^21 58–59 % / 50–53 %.
 * - direct (the rest: small rings with member numbers of 32768 and above, large ones with member
 *   numbers of 16384 and above): a radix table over the top bits of the hash, about 4 entries a
 *   point; entry b is the owner itself (≥ 0) when no point falls in bucket b, so the whole bucket
 *   belongs to the next point's owner, or −(first position ≥ bucket start) − 1 when points fall
 *   inside, and a short forward scan finds the key's point.
 * @internal
 */
export class Continuum {
  /** Point values, ascending; equal values ordered by owner rank (so ties are deterministic). */
  points: Uint32Array = new Uint32Array(0);
  /** Owner (member number) of each point. */
  owners: Uint32Array = new Uint32Array(0);
  /** Which layout answers {@link Continuum.ownerOf}. */
  private layout: typeof OWNER_TABLE | typeof SPLIT | typeof DIRECT = DIRECT;
  /**
   * For each bucket of the top bits, its owner when one member owns it all, else {@link MIXED} |
   * the first position ≥ the bucket's start (owner-table layout) or just {@link MIXED} (split).
   * Every lookup reads it first: the other layouts have two mixed buckets.
   */
  private ownerTable: Uint16Array = new Uint16Array([MIXED, MIXED]);
  private ownerShift = 31;
  /** Direct layout: owners and negated positions. */
  private table: Int32Array = new Int32Array(1);
  private shift = 31;
  /** Split layout: bucket starts, and (low 18 bits << 14 | owner) entries. */
  private starts: Uint32Array = new Uint32Array(0);
  private entries: Uint32Array = new Uint32Array(0);

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
    let maxOwner = 0;
    for (let i = 0; i < n; i++) maxOwner = Math.max(maxOwner, owners[i]!);
    this.ownerTable = new Uint16Array([MIXED, MIXED]);
    this.ownerShift = 31;
    this.starts = new Uint32Array(0);
    this.entries = new Uint32Array(0);
    this.table = new Int32Array(1);
    if (n > 0 && n < SPLIT_POINTS && maxOwner < MIXED) {
      const wanted = Math.max(
        n * OWNER_ENTRIES_PER_POINT,
        Math.min(n * 2 * OWNER_ENTRIES_PER_POINT, 2 ** OWNER_TABLE_SMALL_BITS),
      );
      this.buildOwnerTable(tableBits(wanted, 4, MAX_TABLE_BITS), true);
      this.layout = OWNER_TABLE;
    } else if (n >= SPLIT_POINTS && maxOwner < 16384) {
      this.buildSplit();
      if (n <= SPLIT_TABLE_POINTS) {
        this.buildOwnerTable(tableBits(n * OWNER_ENTRIES_PER_POINT, 4, SPLIT_TABLE_BITS), false);
      }
    } else {
      this.buildDirect();
    }
  }

  /**
   * The owner table over the top `bits` of the hash; a mixed bucket holds {@link MIXED}, with the
   * first position ≥ its start when `positions` (there are then fewer than 2^15 points).
   */
  private buildOwnerTable(bits: number, positions: boolean): void {
    const { points, owners } = this;
    const n = points.length;
    const size = 1 << bits;
    const width = 2 ** (32 - bits);
    const table = new Uint16Array(size);
    let p = 0;
    for (let b = 0; b < size; b++) {
      const end = (b + 1) * width;
      while (p < n && points[p]! < b * width) p++;
      // The bucket's keys go to the points inside it (p, p + 1, ...) and, past the last of them,
      // to the first point at or after its end (wrapping to point 0): one member for all, or mixed.
      const first = owners[p === n ? 0 : p]!;
      let pure = true;
      for (let q = p; pure && q < n && points[q]! < end;) {
        q++;
        pure = owners[q === n ? 0 : q] === first;
      }
      table[b] = pure ? first : positions ? MIXED | p : MIXED;
    }
    this.ownerTable = table;
    this.ownerShift = 32 - bits;
  }

  private buildSplit(): void {
    const { points, owners } = this;
    const n = points.length;
    const starts = new Uint32Array(16385);
    let p = 0;
    for (let b = 0; b <= 16384; b++) {
      while (p < n && points[p]! >>> 18 < b) p++;
      starts[b] = p;
    }
    const entries = new Uint32Array(n);
    for (let i = 0; i < n; i++) entries[i] = (points[i]! & 0x3ffff) * 16384 + owners[i]!;
    this.starts = starts;
    this.entries = entries;
    this.layout = SPLIT;
  }

  private buildDirect(): void {
    const { points, owners } = this;
    const n = points.length;
    const bits = tableBits(n * 4, 1, MAX_TABLE_BITS);
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
    this.layout = DIRECT;
  }

  /**
   * Owner (member number) of the first point ≥ h, wrapping past the last (libketama's rule).
   * @param h - the point, signed or unsigned (only the 32 bits count).
   */
  ownerOf(h: number): number {
    // Kept small so that V8 inlines it into lookups with the key's hash (a lookup that also held
    // the split scan was inlined in some runs and not in others: 40 % of the floor or 60 %).
    // resolve() takes the signed hash: an unsigned value above 2^31 − 1 passed to a call that is
    // not inlined is boxed as a heap number.
    const v = this.ownerTable[(h >>> 0) >>> this.ownerShift]!;
    return v < MIXED ? v : this.resolve(h | 0);
  }

  /** {@link Continuum.ownerOf} for the mixed buckets of the owner table, and the other layouts. */
  private resolve(h: number): number {
    const u = h >>> 0;
    const layout = this.layout;
    if (layout === SPLIT) {
      const b = u >>> 18;
      const starts = this.starts;
      const entries = this.entries;
      // An entry is below (low << 14) exactly when its point's low 18 bits are below the key's
      // (same bucket, so same high 14 bits): the owner in the low bits never decides.
      const key = (u & 0x3ffff) * 16384;
      let p = starts[b]!;
      // Past the bucket's end, p is the first point of the next buckets: the owner sought.
      for (const end = starts[b + 1]!; p < end && entries[p]! < key;) p++;
      return entries[p === entries.length ? 0 : p]! & 0x3fff;
    }
    const points = this.points;
    if (layout === OWNER_TABLE) {
      let p = this.ownerTable[u >>> this.ownerShift]! & (MIXED - 1);
      while (p < points.length && points[p]! < u) p++;
      return this.owners[p === points.length ? 0 : p]!;
    }
    const v = this.table[u >>> this.shift]!;
    if (v >= 0) return v;
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
    return (
      this.points.byteLength +
      this.owners.byteLength +
      this.table.byteLength +
      this.ownerTable.byteLength +
      this.starts.byteLength +
      this.entries.byteLength
    );
  }
}
