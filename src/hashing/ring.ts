/**
 * Hash rings (Karger et al., STOC 1997, https://doi.org/10.1145/258533.258660): every member puts
 * points on a 32-bit circle and a key belongs to the first point at or after its hash. Three
 * flavours share the {@link Continuum}:
 *
 * - {@link KetamaRing}: libketama's exact layout (MD5, 160 points per server), so a fleet can
 *   switch from memcached clients, `hashring` or libketama without moving keys.
 * - {@link HashRing}: the same idea with MurmurHash3 instead of MD5, and points per member that do
 *   not depend on the other members (so a change moves only the changed member's arcs).
 * - {@link BoundedLoadRing}: consistent hashing with bounded loads (Mirrokni, Thorup,
 *   Zadimoghaddam, SODA 2018, https://arxiv.org/abs/1608.01350) on top of the fast ring.
 */
import { Continuum } from './continuum.js';
import {
  badHash,
  badOption,
  checkCount,
  noNodes,
  normaliseMembers,
  unknownNode,
  type NodeWeightLike,
} from './errors.js';
import { murmur3, murmur3i32 } from './hash.js';
import { md5Words } from './md5.js';
import { MemberPlacement } from './placement.js';
import type { AlgorithmName, ConsistentHash, HashSnapshot } from './types.js';

const RANK_LIMIT = 2097152; // 2^21 members: the rank must fit beside a 32-bit point in a double.

/** The parts all rings share: members, the continuum, lookups that walk it. @internal */
abstract class RingBase extends MemberPlacement implements ConsistentHash {
  protected readonly continuum = new Continuum();

  /** The key's point on the circle, as a signed 32-bit integer (the same bits as the unsigned point). */
  abstract hashOf(key: string): number;
  /** The points of one member (cached by subclasses). */
  protected abstract pointsOf(node: string, weight: number): Uint32Array;
  /** Sum of the members' weights, refreshed by every rebuild. */
  protected weightSum = 0;

  /** Rebuilds the continuum from every member's points. */
  protected override rebuild(): void {
    this.weightSum = this.members.totalWeight();
    const ids = this.members.sorted();
    if (ids.length >= RANK_LIMIT) throw badOption('nodes', `fewer than ${RANK_LIMIT} members`, ids.length);
    const perMember = ids.map((id) => this.pointsOf(id, this.members.weightOf(id)!));
    let total = 0;
    for (const p of perMember) total += p.length;
    const packed = new Float64Array(total);
    const ownerOfRank = new Uint32Array(ids.length);
    let k = 0;
    for (let rank = 0; rank < ids.length; rank++) {
      ownerOfRank[rank] = this.members.numberOf(ids[rank]!)!;
      const pts = perMember[rank]!;
      for (let j = 0; j < pts.length; j++) packed[k++] = pts[j]! * RANK_LIMIT + rank;
    }
    this.continuum.build(packed, ownerOfRank);
  }

  lookup(key: string): string {
    if (this.members.size === 0) throw noNodes(this.algorithm);
    return this.members.ids[this.continuum.ownerOf(this.hashOf(key))]!;
  }

  lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    if (this.members.size === 0) throw noNodes(this.algorithm);
    return this.members.ids[this.continuum.ownerOf(h)]!;
  }

  lookupN(key: string, n: number, out: string[] = []): string[] {
    checkCount(n, this.members.size);
    const { points, owners } = this.continuum;
    const start = this.continuum.position(this.hashOf(key));
    const m = this.members;
    m.beginSeen();
    out.length = n;
    let found = 0;
    for (let i = 0; i < points.length && found < n; i++) {
      let p = start + i;
      if (p >= points.length) p -= points.length;
      const owner = owners[p]!;
      if (m.see(owner)) out[found++] = m.ids[owner]!;
    }
    return out;
  }

  /** Number of points on the circle. */
  get pointCount(): number {
    return this.continuum.points.length;
  }

  /**
   * Fraction of the 32-bit circle each member owns (exact, from the arcs), by id. This is the
   * balance of the placement itself, without the sampling noise of counting keys.
   */
  shares(): Map<string, number> {
    const { points, owners } = this.continuum;
    const share = new Map<string, number>();
    for (const id of this.members.sorted()) share.set(id, 0);
    for (let i = 0; i < points.length; i++) {
      // Point i owns the arc (previous point, point i]; point 0 also owns the wrap-around arc.
      const prev = i === 0 ? points[points.length - 1]! - 4294967296 : points[i - 1]!;
      const id = this.members.ids[owners[i]!]!;
      share.set(id, share.get(id)! + (points[i]! - prev) / 4294967296);
    }
    return share;
  }

  /** Bytes of the typed arrays behind lookups (points, owners, lookup table, cached points). */
  memoryBytes(): number {
    return this.continuum.bytes() + this.cachedPointBytes();
  }

  /** Bytes of the per-member point arrays kept for rebuilds. */
  protected abstract cachedPointBytes(): number;
}

/** Options of {@link KetamaRing}. */
export interface KetamaRingOptions {
  /**
   * Whose arithmetic decides a server's point count `floor(weight / total · 40 · servers)`:
   * libketama computes it in C `float`, the `hashring` npm package in `double`; for some server
   * counts (7, 14, 25, ...) they disagree by one group of 4 points, so the mappings differ.
   * @default 'libketama' (the reference implementation, also what libmemcached-era clients follow)
   */
  compatibility?: 'libketama' | 'hashring';
  /**
   * Points per server at equal weights: a server gets `floor(weight / total · pointsPerServer / 4 ·
   * servers)` MD5 digests of 4 points each. Only 160 is compatible with libketama and `hashring`;
   * any other value is a ketama-style ring that only tenure reproduces. Raise it for weighted rings
   * with few members: 160 points leave a weight-1 member of weights 1, 2, 3, 4 about 10 % off its
   * share; bench/README.md ("weighted rings") measures how many points keep every share within 5 %.
   * Must be a multiple of 4 in 4..65536.
   * @default 160 (libketama's 40 digests per server)
   */
  pointsPerServer?: number;
}

/** Frozen defaults of {@link KetamaRingOptions}. */
export const KETAMA_DEFAULTS: Readonly<Required<KetamaRingOptions>> = Object.freeze({
  compatibility: 'libketama',
  pointsPerServer: 160,
});

/**
 * libketama's continuum: each server gets `floor(weight / total · 40 · servers)` MD5 digests of
 * `"<id>-<i>"`, each giving 4 points (160 per server at equal weights); a key's point is the first
 * 4 bytes of MD5(key), little-endian. Reproduces libketama's and `hashring`'s mappings on their
 * published fixtures (see test/hashing/ketama.test.ts).
 *
 * Because point counts depend on the total weight, changing the members of a ring with unequal
 * weights also moves points of the other members: that is libketama's behaviour, kept for
 * compatibility. Use {@link HashRing} when compatibility does not matter.
 *
 * MD5 is hand-written (src/hashing/md5.ts) so lookups allocate nothing.
 * @see https://github.com/RJ/ketama
 * @example
 * ```ts
 * const ring = new KetamaRing([{ node: '10.0.0.1:11211', weight: 2 }, '10.0.0.2:11211']);
 * ring.lookup('user:42'); // '10.0.0.1:11211'
 * ```
 */
export class KetamaRing extends RingBase {
  readonly algorithm = 'ketama';
  /** The options in effect. */
  readonly config: Readonly<Required<KetamaRingOptions>>;
  private readonly cache = new Map<string, Uint32Array>();

  /**
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member, bad weight or option.
   */
  constructor(nodes?: Iterable<string | NodeWeightLike>, options: KetamaRingOptions = {}) {
    super();
    const compatibility = options.compatibility ?? KETAMA_DEFAULTS.compatibility;
    if (compatibility !== 'libketama' && compatibility !== 'hashring') {
      throw badOption('compatibility', "'libketama' or 'hashring'", compatibility);
    }
    const pointsPerServer = options.pointsPerServer ?? KETAMA_DEFAULTS.pointsPerServer;
    if (
      !Number.isInteger(pointsPerServer) ||
      pointsPerServer < 4 ||
      pointsPerServer > 65536 ||
      pointsPerServer % 4 !== 0
    ) {
      throw badOption('pointsPerServer', 'a multiple of 4 in 4..65536', pointsPerServer);
    }
    this.config = Object.freeze({ compatibility, pointsPerServer });
    for (const { node, weight } of normaliseMembers(nodes)) this.members.add(node, weight);
    this.rebuild();
  }

  hashOf(key: string): number {
    return md5Words(key)[0]! | 0;
  }

  protected pointsOf(node: string, weight: number): Uint32Array {
    const total = this.weightSum;
    const servers = this.members.size;
    const digests = this.config.pointsPerServer / 4;
    const groups =
      this.config.compatibility === 'libketama'
        ? // C: float pct = (float)w / (float)total; floorf(pct * 40.0 * (float)n), where the double
          // product is converted back to float by floorf's parameter.
          Math.floor(Math.fround(Math.fround(weight / total) * digests * servers))
        : Math.floor((weight / total) * digests * servers);
    const cacheKey = `${groups}\u0000${node}`;
    let points = this.cache.get(cacheKey);
    if (points === undefined) {
      points = new Uint32Array(groups * 4);
      for (let k = 0; k < groups; k++) points.set(md5Words(`${node}-${k}`), k * 4);
      this.cache.set(cacheKey, points);
    }
    return points;
  }

  protected override rebuild(): void {
    super.rebuild();
    // Drop cached points of departed members or stale counts, keeping memory proportional to members.
    if (this.cache.size > this.members.size * 2) this.cache.clear();
  }

  protected options(): Record<string, number | string> {
    return { compatibility: this.config.compatibility, pointsPerServer: this.config.pointsPerServer };
  }

  protected cachedPointBytes(): number {
    let bytes = 0;
    for (const p of this.cache.values()) bytes += p.byteLength;
    return bytes;
  }
}

/** Options of {@link HashRing}. */
export interface HashRingOptions {
  /**
   * Points per unit of weight. More points balance better (peak/average ≈ 1 + 3/√points at 100
   * members) and cost memory (8 bytes a point) and build time.
   * @default 160 (libketama's figure, so the two rings compare like for like)
   */
  pointsPerNode?: number;
}

/** Frozen defaults of {@link HashRingOptions}. */
export const HASH_RING_DEFAULTS: Readonly<Required<HashRingOptions>> = Object.freeze({ pointsPerNode: 160 });

/**
 * A hash ring with MurmurHash3 points: member `id` of weight `w` gets `round(pointsPerNode · w)`
 * points `murmur3(id, i)`, independent of the other members, so adding or removing a member moves
 * only the keys of the arcs it gains or loses (no key moves between two other members).
 * @example
 * ```ts
 * const ring = new HashRing(['a', 'b', 'c']);
 * ring.lookupN('user:42', 2); // ['c', 'b']: owner and first replica
 * ```
 */
export class HashRing extends RingBase {
  readonly algorithm: AlgorithmName = 'ring';
  /** The options in effect. */
  readonly config: Readonly<Required<HashRingOptions>>;
  private readonly cache = new Map<string, Uint32Array>();

  /**
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member, bad weight or option.
   */
  constructor(nodes?: Iterable<string | NodeWeightLike>, options: HashRingOptions = {}) {
    super();
    const pointsPerNode = options.pointsPerNode ?? HASH_RING_DEFAULTS.pointsPerNode;
    if (!Number.isInteger(pointsPerNode) || pointsPerNode < 1 || pointsPerNode > 65536) {
      throw badOption('pointsPerNode', 'an integer in 1..65536', pointsPerNode);
    }
    this.config = Object.freeze({ pointsPerNode });
    for (const { node, weight } of normaliseMembers(nodes)) this.members.add(node, weight);
    this.rebuild();
  }

  hashOf(key: string): number {
    return murmur3i32(key);
  }

  /**
   * The member that owns `key`: the owner of the first point at or after the key's hash.
   * @throws TENURE_INVALID_ARGUMENT (reason `no-nodes`) when the ring has no members.
   */
  // The base's lookup calls hashOf, which differs between the ring classes: calling murmur3i32 here
  // keeps the call site monomorphic, so the hash is inlined into the lookup.
  // An empty continuum is a ring without members (each member has at least one point).
  override lookup(key: string): string {
    const continuum = this.continuum;
    if (continuum.points.length === 0) throw noNodes(this.algorithm);
    return this.members.ids[continuum.ownerOf(murmur3i32(key))]!;
  }

  protected pointsOf(node: string, weight: number): Uint32Array {
    let points = this.cache.get(node);
    const count = Math.max(1, Math.round(this.config.pointsPerNode * weight));
    if (points === undefined || points.length !== count) {
      points = new Uint32Array(count);
      for (let i = 0; i < count; i++) points[i] = murmur3(node, i);
      this.cache.set(node, points);
    }
    return points;
  }

  /**
   * Removes a member and forgets its cached points: only the keys that fell on its points move,
   * each to the next point clockwise.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` (details.reason `unknown-node`) if it is not a member.
   */
  override remove(node: string): void {
    super.remove(node);
    this.cache.delete(node);
  }

  protected options(): Record<string, number | string> {
    return { pointsPerNode: this.config.pointsPerNode };
  }

  protected cachedPointBytes(): number {
    let bytes = 0;
    for (const p of this.cache.values()) bytes += p.byteLength;
    return bytes;
  }
}

/** Options of {@link BoundedLoadRing}. */
export interface BoundedLoadRingOptions extends HashRingOptions {
  /**
   * ε: no member takes a new key while its load would exceed ⌈(1+ε) · weight share · total⌉.
   * Smaller ε balances tighter but moves more keys away from their ring owner.
   * @default 0.25 (the value Vimeo shipped in HAProxy's `hash-balance-factor 125`; the paper shows
   * the expected number of probes is O(1/ε²))
   */
  epsilon?: number;
}

/** Frozen defaults of {@link BoundedLoadRingOptions}. */
export const BOUNDED_LOAD_DEFAULTS: Readonly<Required<BoundedLoadRingOptions>> = Object.freeze({
  pointsPerNode: 160,
  epsilon: 0.25,
});

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, SODA 2018): a key goes
 * to the first member clockwise whose load is below its capacity ⌈(1+ε) · (w/W) · m⌉, where m is
 * the number of keys placed including this one. Loads are live: {@link BoundedLoadRing.acquire}
 * places a key and counts it, {@link BoundedLoadRing.release} uncounts it.
 *
 * The bound holds for every member at the moment it takes a key. Releases lower the average, so a
 * member can sit above the new cap until it releases keys; nothing is moved behind the caller's
 * back. `lookup` answers where a key would go now, without counting it.
 * @see https://arxiv.org/abs/1608.01350
 * @example
 * ```ts
 * const ring = new BoundedLoadRing(['a', 'b', 'c'], { epsilon: 0.1 });
 * const owner = ring.acquire('session:7'); // counts one load on `owner`
 * ring.release(owner);
 * ```
 */
export class BoundedLoadRing extends HashRing {
  override readonly algorithm: AlgorithmName = 'bounded';
  /** ε in effect. */
  readonly epsilon: number;
  private loadOf: number[] = [];
  private total = 0;

  /**
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a bad ε (must be finite and > 0), member or weight.
   */
  constructor(nodes?: Iterable<string | NodeWeightLike>, options: BoundedLoadRingOptions = {}) {
    super(nodes, { pointsPerNode: options.pointsPerNode ?? BOUNDED_LOAD_DEFAULTS.pointsPerNode });
    const epsilon = options.epsilon ?? BOUNDED_LOAD_DEFAULTS.epsilon;
    if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0) {
      throw badOption('epsilon', 'a finite number > 0', epsilon);
    }
    this.epsilon = epsilon;
  }

  /** Capacity of a member for `m` keys in total. */
  capacity(node: string, m = this.total): number {
    const w = this.members.weightOf(node);
    if (w === undefined) throw unknownNode(node);
    return Math.ceil((1 + this.epsilon) * (w / this.weightSum) * m);
  }

  /** Total keys currently counted. */
  get totalLoad(): number {
    return this.total;
  }

  /** Keys currently counted on `node` (0 for a non-member). */
  load(node: string): number {
    const i = this.members.numberOf(node);
    return i === undefined ? 0 : (this.loadOf[i] ?? 0);
  }

  /** The member number a key of hash h would go to now. */
  private choose(h: number): number {
    if (this.members.size === 0) throw noNodes(this.algorithm);
    const { points, owners } = this.continuum;
    const m = this.total + 1;
    const scale = ((1 + this.epsilon) * m) / this.weightSum;
    const start = this.continuum.position(h);
    // Σ capacities ≥ (1+ε)·m > m − 1 = Σ loads, so some member is below its capacity: the walk ends.
    for (let i = 0; i < points.length; i++) {
      let p = start + i;
      if (p >= points.length) p -= points.length;
      const owner = owners[p]!;
      if ((this.loadOf[owner] ?? 0) + 1 <= Math.ceil(scale * this.members.weights[owner]!)) return owner;
    }
    return owners[start]!;
  }

  /** The member `key` would go to now (first with room clockwise). Counts nothing. */
  override lookup(key: string): string {
    return this.members.ids[this.choose(this.hashOf(key))]!;
  }

  /** The member a key of this hash would go to now (first with room clockwise). Counts nothing. */
  override lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    return this.members.ids[this.choose(h)]!;
  }

  /**
   * `n` distinct members for `key`: those with room first, in clockwise order, then full ones.
   */
  override lookupN(key: string, n: number, out: string[] = []): string[] {
    checkCount(n, this.members.size);
    const { points, owners } = this.continuum;
    const start = this.continuum.position(this.hashOf(key));
    const scale = ((1 + this.epsilon) * (this.total + 1)) / this.weightSum;
    const m = this.members;
    m.beginSeen();
    out.length = n;
    let found = 0;
    for (let pass = 0; pass < 2 && found < n; pass++) {
      for (let i = 0; i < points.length && found < n; i++) {
        let p = start + i;
        if (p >= points.length) p -= points.length;
        const owner = owners[p]!;
        const hasRoom = (this.loadOf[owner] ?? 0) + 1 <= Math.ceil(scale * m.weights[owner]!);
        if ((pass === 1 || hasRoom) && m.see(owner)) out[found++] = m.ids[owner]!;
      }
    }
    return out;
  }

  /**
   * Places `key` and counts one load on its member.
   * @returns the member that now holds the key (pass it to {@link BoundedLoadRing.release}).
   * @throws TenureError `TENURE_INVALID_ARGUMENT` (reason `no-nodes`) when there are no members.
   */
  acquire(key: string): string {
    const owner = this.choose(this.hashOf(key));
    this.loadOf[owner] = (this.loadOf[owner] ?? 0) + 1;
    this.total++;
    return this.members.ids[owner]!;
  }

  /**
   * Uncounts one key from `node`.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` if `node` is not a member or holds no load.
   */
  release(node: string): void {
    const i = this.members.numberOf(node);
    if (i === undefined) throw unknownNode(node);
    if ((this.loadOf[i] ?? 0) === 0) throw badOption('node', 'a member with a load to release', node);
    this.loadOf[i]!--;
    this.total--;
  }

  /** Removes a member and forgets its load: the caller re-acquires the keys it held. */
  override remove(node: string): void {
    const i = this.members.numberOf(node);
    if (i !== undefined) {
      this.total -= this.loadOf[i] ?? 0;
      this.loadOf[i] = 0;
    }
    super.remove(node);
  }

  override add(node: string, weight = 1): void {
    super.add(node, weight);
    this.loadOf[this.members.numberOf(node)!] = 0;
  }

  protected override options(): Record<string, number | string> {
    return { pointsPerNode: this.config.pointsPerNode, epsilon: this.epsilon };
  }

  override snapshot(): HashSnapshot {
    const snap = super.snapshot();
    snap.state = { loads: snap.nodes.map(({ node }) => this.load(node)) };
    return snap;
  }

  /** Sets loads from a snapshot. @internal */
  setLoads(loads: readonly number[], order: readonly string[]): void {
    this.total = 0;
    order.forEach((node, k) => {
      const i = this.members.numberOf(node)!;
      this.loadOf[i] = loads[k]!;
      this.total += loads[k]!;
    });
  }
}
