/**
 * Jump consistent hash (Lamping and Veach, 2014, https://arxiv.org/abs/1406.2294) in 32-bit
 * integer arithmetic: the 64-bit linear congruential generator is carried as two 32-bit halves
 * multiplied with Math.imul, so no BigInt (and no allocation) is involved.
 */
import {
  badHash,
  badOption,
  checkCount,
  checkNode,
  duplicateNode,
  noNodes,
  normaliseMembers,
  unknownNode,
} from './errors.js';
import { fmix32i, murmur3i32 } from './hash.js';
import { compareIds } from './members.js';
import type { ConsistentHash, HashSnapshot } from './types.js';

// The LCG multiplier 2862933555777941757 = 0x27BB2EE6_87B0B0FD, split for 32-bit arithmetic, and
// its low word split again in 16-bit halves for the exact high word of lo · C_LO.
const C_HI = 0x27bb2ee6;
const C_LO = 0x87b0b0fd;
const C_LO_0 = C_LO & 0xffff;
const C_LO_1 = C_LO >>> 16;

/**
 * Lamping and Veach's `JumpConsistentHash(key, buckets)` for a 64-bit key given as two 32-bit
 * halves (signed or unsigned: only the bits count). Returns the same bucket as the paper's C++
 * (and Guava, go-jump, ...) for the same 64-bit key; −1 when `buckets` < 1.
 * @param keyLo - low 32 bits of the key.
 * @param keyHi - high 32 bits of the key.
 * @param buckets - the bucket count, an integer in 1..2^31 − 1.
 * @example jumpBucket(0, 0, 10) // 0
 */
export function jumpBucket(keyLo: number, keyHi: number, buckets: number): number {
  if (!(buckets >= 1)) return -1;
  let lo = keyLo | 0;
  let hi = keyHi | 0;
  let b = 0;
  // x is the paper's j before truncation: ⌊x⌋ < buckets exactly when x < buckets (an integer), so
  // the truncation is only done for the x that become b.
  for (let x = 0; x < buckets; x = (b + 1) * (2147483648 / ((hi >>> 1) + 1))) {
    b = x | 0;
    // key = key · C + 1 (mod 2^64), in 32-bit integers only (V8 keeps them unboxed and never
    // converts to a double): the high word of lo · C_LO from the four 16-bit partial products,
    // each below 2^32, with the carries of their middle sum.
    const a0 = lo & 0xffff;
    const a1 = lo >>> 16;
    const low0 = Math.imul(a0, C_LO_0) >>> 0;
    const mid1 = Math.imul(a1, C_LO_0) >>> 0;
    const mid2 = Math.imul(a0, C_LO_1) >>> 0;
    const carry = ((low0 >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
    const high = Math.imul(a1, C_LO_1) + (mid1 >>> 16) + (mid2 >>> 16) + carry;
    hi = (high + Math.imul(lo, C_HI) + Math.imul(hi, C_LO)) | 0;
    lo = (Math.imul(lo, C_LO) + 1) | 0;
    // The + 1 carries into the high word only when the low word wrapped to 0.
    hi = (hi + (lo === 0 ? 1 : 0)) | 0;
  }
  return b;
}

/**
 * Jump consistent hash over a list of members: key → `jumpBucket(murmur3(key), 0, size)` → member.
 * No memory beyond the member list, near-perfect balance, and adding a member moves exactly the
 * 1/(n+1) of keys it takes.
 *
 * Jump numbers its buckets, so only the last member can leave without collateral moves. `remove`
 * of any other member moves the last member into the freed bucket: the keys of both move (2/n
 * instead of 1/n). Use {@link MementoHash} when arbitrary members fail. Members given to the
 * constructor are numbered in id order, so the same set gives the same mapping in any order;
 * after add/remove, the numbering follows the history: share {@link JumpHash.snapshot}.
 * @example
 * ```ts
 * const jump = new JumpHash(['shard-0', 'shard-1', 'shard-2']);
 * jump.lookup('user:42');
 * ```
 */
export class JumpHash implements ConsistentHash {
  readonly algorithm = 'jump';
  private buckets: string[] = [];
  private readonly index = new Map<string, number>();

  /**
   * @param nodes - members (weights must be 1); numbered in id order.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member or a weight other than 1.
   */
  constructor(
    nodes?: Iterable<string | { node: string; weight?: number }>,
    options: { ordered?: boolean } = {},
  ) {
    const list = normaliseMembers(nodes, true, 'jump').map((m) => m.node);
    // `ordered` keeps the given bucket order (used by restore); otherwise sort for determinism.
    if (options.ordered !== true) list.sort(compareIds);
    for (const node of list) this.push(node);
  }

  private push(node: string): void {
    this.index.set(node, this.buckets.length);
    this.buckets.push(node);
  }

  get size(): number {
    return this.buckets.length;
  }

  lookup(key: string): string {
    const buckets = this.buckets;
    if (buckets.length === 0) throw noNodes(this.algorithm);
    return buckets[jumpBucket(murmur3i32(key), 0, buckets.length)]!;
  }

  hashOf(key: string): number {
    return murmur3i32(key);
  }

  lookupHash(hash: number): string {
    const h = hash | 0;
    if (h !== hash && h >>> 0 !== hash) throw badHash(hash);
    const buckets = this.buckets;
    if (buckets.length === 0) throw noNodes(this.algorithm);
    return buckets[jumpBucket(h, 0, buckets.length)]!;
  }

  lookupN(key: string, n: number, out: string[] = []): string[] {
    checkCount(n, this.buckets.length);
    return preferenceList(
      key,
      n,
      out,
      this.buckets.length,
      (h) => jumpBucket(h, 0, this.buckets.length),
      (b) => this.buckets[b]!,
    );
  }

  /**
   * Appends a member as the last bucket.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member or a weight other than 1.
   */
  add(node: string, weight = 1): void {
    normaliseMembers([{ node, weight }], true, 'jump');
    if (this.index.has(node)) throw duplicateNode(node);
    this.push(node);
  }

  remove(node: string): void {
    const b = this.index.get(node);
    if (b === undefined) throw unknownNode(checkNode(node));
    const last = this.buckets.pop()!;
    this.index.delete(node);
    if (last !== node) {
      this.buckets[b] = last;
      this.index.set(last, b);
    }
  }

  has(node: string): boolean {
    return this.index.has(node);
  }

  nodes(): string[] {
    return [...this.buckets].sort(compareIds);
  }

  weightOf(node: string): number | undefined {
    return this.index.has(node) ? 1 : undefined;
  }

  /** Members in bucket order (bucket i is `bucketOrder()[i]`). */
  bucketOrder(): string[] {
    return [...this.buckets];
  }

  snapshot(): HashSnapshot {
    return {
      format: 'tenure.hashing/1',
      algorithm: this.algorithm,
      options: {},
      nodes: this.buckets.map((node) => ({ node, weight: 1 })),
    };
  }
}

/**
 * A distinct preference list for the bucket algorithms: bucket of the key, then of the key
 * re-hashed with seeds 1, 2, ..., skipping repeats; after 4n+16 tries (only likely when n is close
 * to the size) the rest is filled by scanning buckets upward from the last one found.
 * @internal
 */
export function preferenceList(
  key: string,
  n: number,
  out: string[],
  size: number,
  bucketOf: (hash: number) => number,
  nodeOf: (bucket: number) => string,
): string[] {
  const h = murmur3i32(key);
  out.length = n;
  let found = 0;
  let last = 0;
  for (let seed = 0; found < n && seed < 4 * n + 16; seed++) {
    const b = bucketOf(seed === 0 ? h : fmix32i((h + Math.imul(seed, 0x9e3779b9)) | 0));
    const node = nodeOf(b);
    if (!contains(out, found, node)) {
      out[found++] = node;
      last = b;
    }
  }
  for (let step = 1; found < n && step <= size * 2; step++) {
    const node = nodeOf((last + step) % size);
    if (node !== '' && !contains(out, found, node)) out[found++] = node;
  }
  if (found < n) throw badOption('n', `at most the number of reachable members (${found})`, n);
  return out;
}

function contains(list: string[], count: number, node: string): boolean {
  for (let i = 0; i < count; i++) if (list[i] === node) return true;
  return false;
}
