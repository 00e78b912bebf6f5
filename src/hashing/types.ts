/**
 * The one interface every placement algorithm of tenure/hashing implements, and the shapes it
 * shares (node weights, snapshots, moves).
 */

/** The algorithms of this module, as recorded in a {@link HashSnapshot}. */
export type AlgorithmName =
  'ketama' | 'ring' | 'bounded' | 'rendezvous' | 'jump' | 'memento' | 'maglev' | 'slots';

/** A member and its relative weight (capacity). */
export interface NodeWeight {
  /** The member's id: any non-empty string, compared exactly. */
  node: string;
  /** Relative capacity, a finite number > 0. Algorithms that cannot weight members accept only 1. */
  weight: number;
}

/**
 * A JSON-serialisable picture of a placement: enough to rebuild the exact same mapping in another
 * process with {@link restore}. Plain data only (no typed arrays), so `JSON.stringify` works.
 */
export interface HashSnapshot {
  /** Format tag; bumped if the meaning of the fields ever changes. */
  format: 'tenure.hashing/1';
  /** Which algorithm produced it. */
  algorithm: AlgorithmName;
  /** The algorithm's options (numbers and strings only). */
  options: Record<string, number | string>;
  /** The members in canonical order (the order that matters to the algorithm, if any). */
  nodes: NodeWeight[];
  /** Algorithm-specific state (Memento's removal memory, live loads, slot owners). */
  state?: Record<string, unknown>;
}

/**
 * Consistent hashing: maps string keys to members so that a membership change moves few keys.
 *
 * All implementations are deterministic: the same members (and, for the positional algorithms
 * Jump and MementoHash, the same history or snapshot) give the same mapping in every process.
 * `lookup` allocates nothing; `lookupN` allocates only its result unless given `out`.
 */
export interface ConsistentHash {
  /** Which algorithm this is. */
  readonly algorithm: AlgorithmName;
  /** Number of members. */
  readonly size: number;
  /**
   * The member that owns `key`.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` (details.reason `no-nodes`) when there are no members.
   */
  lookup(key: string): string;
  /**
   * The signed 32-bit hash that `lookup(key)` starts from: `murmur3i32(key)` for every algorithm
   * but the ketama ring, whose key hash is libketama's (the first MD5 word, `| 0`). Store it with
   * precomputed keys and pass it to {@link ConsistentHash.lookupHash}.
   */
  hashOf(key: string): number;
  /**
   * The member that owns a key of hash `hash`: `lookupHash(hashOf(key)) === lookup(key)`, without
   * hashing the key again (for routing layers and tables of precomputed keys).
   * @param hash - a 32-bit integer, signed (`murmur3i32`) or unsigned (`murmur3`): both are read as
   *   the same 32 bits.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` (details.reason `bad-hash`) when `hash` is not a
   * 32-bit integer, (reason `no-nodes`) when there are no members.
   */
  lookupHash(hash: number): string;
  /**
   * `n` distinct members for `key`, best first (a replica preference list); `[0]` equals `lookup(key)`.
   * @param out - array to fill (its length is set to `n`), to avoid allocating on hot paths.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` when `n` is not an integer in 1..size.
   */
  lookupN(key: string, n: number, out?: string[]): string[];
  /**
   * Adds a member.
   * @param weight - relative capacity. @default 1
   * @throws TenureError `TENURE_INVALID_ARGUMENT` for a duplicate member or a weight ≤ 0 / NaN.
   */
  add(node: string, weight?: number): void;
  /**
   * Removes a member.
   * @throws TenureError `TENURE_INVALID_ARGUMENT` (details.reason `unknown-node`) if it is not a member.
   */
  remove(node: string): void;
  /** Whether `node` is a member. */
  has(node: string): boolean;
  /** The members, sorted by id (a fresh array). */
  nodes(): string[];
  /** The member's weight, or undefined if it is not a member. */
  weightOf(node: string): number | undefined;
  /** A JSON-serialisable snapshot; {@link restore} rebuilds the same mapping from it. */
  snapshot(): HashSnapshot;
}

/** One key or slot that changed owner between two assignments. */
export interface Move<K> {
  /** The key (string) or slot (number) that moved. */
  key: K;
  /** Its owner before. */
  from: string;
  /** Its owner after. */
  to: string;
}
