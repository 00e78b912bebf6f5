/**
 * MementoHash (Coluzzi, Brocco, Antonucci, Leidi, 2023, https://arxiv.org/abs/2306.09783):
 * Jump consistent hash plus a memory of removed buckets, so that any member can leave.
 */
import {
  badHash,
  checkCount,
  checkNode,
  duplicateNode,
  noNodes,
  normaliseMembers,
  unknownNode,
} from './errors.js';
import { fmix32i, murmur3i32 } from './hash.js';
import { jumpBucket, preferenceList } from './jump.js';
import { compareIds } from './members.js';
import type { ConsistentHash, HashSnapshot } from './types.js';

/**
 * Constant-time consistent hashing that allows removing any member: MementoHash.
 *
 * Why MementoHash rather than AnchorHash or DxHash: all three give minimal disruption and O(1)
 * expected lookups, but AnchorHash and DxHash must be sized for a maximum cluster up front and
 * keep O(capacity) arrays, while MementoHash keeps only the removed buckets (nothing at all while
 * no member has failed) and runs exactly Jump's loop in that common case, so a healthy fleet pays
 * Jump's speed and memory. Its cost grows with the fraction of removed buckets (about
 * ln(n / working) extra hashes), which stays small for the failures a fleet sees at once.
 *
 * Removing bucket b while w buckets work records (b → replacer w−1, previous removal). A key that
 * Jump sends to a removed bucket is re-hashed into [0, replacer), and buckets removed before b
 * are followed to their replacers; keys of working buckets never move. Adding a member reuses
 * the most recently removed bucket (restoring the state before that removal), else appends one.
 *
 * Determinism: members given to the constructor are numbered in id order; afterwards numbering
 * follows the add/remove history, which {@link MementoHash.snapshot} captures.
 * @example
 * ```ts
 * const memento = new MementoHash(['a', 'b', 'c', 'd']);
 * memento.remove('b'); // only b's keys move
 * memento.lookup('user:42');
 * ```
 */
export class MementoHash implements ConsistentHash {
  readonly algorithm = 'memento';
  /** Bucket → member id; '' for a removed bucket. */
  private buckets: string[] = [];
  private readonly index = new Map<string, number>();
  /** Removed bucket → replacer + 1 (0 = bucket works), dense for allocation-free lookups. */
  private replacer = new Int32Array(16);
  /** Removed bucket → previously removed bucket (the LIFO chain used by add). */
  private readonly previous = new Map<number, number>();
  private lastRemoved = -1;
  private removedCount = 0;

  /**
   * @param nodes - members (weights must be 1); numbered in id order.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member or a weight other than 1.
   */
  constructor(nodes?: Iterable<string | { node: string; weight?: number }>) {
    const list = normaliseMembers(nodes, true, 'memento').map((m) => m.node);
    list.sort(compareIds);
    for (const node of list) this.add(node);
  }

  get size(): number {
    return this.buckets.length - this.removedCount;
  }

  /** The bucket of a key hash (signed or unsigned: only the 32 bits count). */
  private bucketOf(h: number): number {
    let b = jumpBucket(h, 0, this.buckets.length);
    // Nothing removed (the common case): exactly Jump.
    if (this.removedCount === 0) return b;
    const replacer = this.replacer;
    let r = replacer[b]! - 1;
    while (r >= 0) {
      // Re-hash into [0, r): the working buckets right after b left. Multiply-shift, not modulo.
      const x = fmix32i(h ^ Math.imul(b + 1, 0x9e3779b1)) >>> 0;
      // Truncation is ⌊·⌋ here (0 ≤ value < r < 2^31) and keeps b a small integer: Math.floor
      // made it a double that V8 boxed on every re-hash.
      b = ((x * r) / 4294967296) | 0;
      // Buckets removed before b (larger replacers) were already replaced at that time.
      let rb = replacer[b]! - 1;
      while (rb >= r) {
        b = rb;
        rb = replacer[b]! - 1;
      }
      r = rb;
    }
    return b;
  }

  lookup(key: string): string {
    if (this.buckets.length === this.removedCount) throw noNodes(this.algorithm);
    return this.buckets[this.bucketOf(murmur3i32(key))]!;
  }

  hashOf(key: string): number {
    return murmur3i32(key);
  }

  lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    if (this.buckets.length === this.removedCount) throw noNodes(this.algorithm);
    return this.buckets[this.bucketOf(h)]!;
  }

  lookupN(key: string, n: number, out: string[] = []): string[] {
    checkCount(n, this.size);
    return preferenceList(
      key,
      n,
      out,
      this.buckets.length,
      (h) => this.bucketOf(h),
      (b) => this.buckets[b]!,
    );
  }

  /**
   * Adds a member into the most recently removed bucket, or a new last bucket.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member or a weight other than 1.
   */
  add(node: string, weight = 1): void {
    normaliseMembers([{ node, weight }], true, 'memento');
    if (this.index.has(node)) throw duplicateNode(node);
    let b: number;
    if (this.lastRemoved >= 0) {
      b = this.lastRemoved;
      this.lastRemoved = this.previous.get(b)!;
      this.previous.delete(b);
      this.replacer[b] = 0;
      this.removedCount--;
    } else {
      b = this.buckets.length;
      if (b >= this.replacer.length) {
        const next = new Int32Array(this.replacer.length * 2);
        next.set(this.replacer);
        this.replacer = next;
      }
    }
    this.buckets[b] = node;
    this.index.set(node, b);
  }

  /** Removes any member; only its keys move. */
  remove(node: string): void {
    const b = this.index.get(node);
    if (b === undefined) throw unknownNode(checkNode(node));
    this.index.delete(node);
    this.buckets[b] = '';
    if (this.removedCount === 0 && b === this.buckets.length - 1) {
      // Plain Jump shrink: no memory needed.
      this.buckets.length = b;
      return;
    }
    const working = this.buckets.length - this.removedCount;
    this.replacer[b] = working - 1 + 1;
    this.previous.set(b, this.lastRemoved);
    this.lastRemoved = b;
    this.removedCount++;
  }

  has(node: string): boolean {
    return this.index.has(node);
  }

  nodes(): string[] {
    return [...this.index.keys()].sort(compareIds);
  }

  weightOf(node: string): number | undefined {
    return this.index.has(node) ? 1 : undefined;
  }

  /** Bytes of the typed array of replacers (4 per bucket, grown by doubling). */
  memoryBytes(): number {
    return this.replacer.byteLength;
  }

  /** Number of removed buckets remembered (0 while no member has left out of order). */
  get removedBuckets(): number {
    return this.removedCount;
  }

  snapshot(): HashSnapshot {
    // The removal chain, oldest first, replays exactly; buckets are listed with '' for holes.
    const chain: number[] = [];
    for (let b = this.lastRemoved; b >= 0; b = this.previous.get(b)!) chain.unshift(b);
    return {
      format: 'tenure.hashing/1',
      algorithm: this.algorithm,
      options: {},
      nodes: this.nodes().map((node) => ({ node, weight: 1 })),
      state: { buckets: [...this.buckets], removals: chain },
    };
  }

  /**
   * Rebuilds from a bucket list ('' = removed) and the removal order (oldest first). @internal
   */
  static fromState(buckets: readonly string[], removals: readonly number[]): MementoHash {
    const m = new MementoHash();
    // Fill every bucket with a placeholder, then replay the removals in order: the replacers
    // depend only on the working count at each removal, which the replay reproduces.
    const placeholder = (b: number) => `\u0000${b}`;
    buckets.forEach((node, b) => m.add(node === '' ? placeholder(b) : node));
    for (const b of removals) m.remove(buckets[b] === '' ? placeholder(b) : buckets[b]!);
    return m;
  }
}
