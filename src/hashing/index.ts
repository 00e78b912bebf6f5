/**
 * tenure/hashing: consistent hashing, pure algorithms with no I/O.
 *
 * | algorithm | class | lookup | weights | removal moves |
 * | --- | --- | --- | --- | --- |
 * | ketama ring | {@link KetamaRing} | O(log points), MD5 | yes | only its keys (equal weights) |
 * | fast ring | {@link HashRing} | O(1) expected (radix index) | yes | only its keys |
 * | bounded loads | {@link BoundedLoadRing} | O(1/ε²) expected | yes | its keys (+ overflow) |
 * | rendezvous | {@link Rendezvous} | O(members) | yes | only its keys |
 * | Jump | {@link JumpHash} | O(log members) | no | only its keys if last, else also the last's |
 * | MementoHash | {@link MementoHash} | O(1) expected | no | only its keys |
 * | Maglev | {@link Maglev} | O(1) | yes | its keys + a few more |
 * | slot table | {@link SlotTable}, {@link assignSlots} | O(1) | yes | minimal (quota-exact) |
 *
 * Lookups allocate nothing and start from one hash of the key, `murmur3i32(key)` (the ketama ring:
 * its MD5 word); callers that already hold it skip the hashing with `lookupHash(hash)`.
 *
 * @example
 * ```ts
 * import { MementoHash, restore } from 'tenure/hashing';
 * const placement = new MementoHash(['a', 'b', 'c']);
 * placement.lookup('user:42');
 * const copy = restore(JSON.parse(JSON.stringify(placement.snapshot())));
 * ```
 * @packageDocumentation
 */
export type { AlgorithmName, ConsistentHash, HashSnapshot, Move, NodeWeight } from './types.js';
export type { HashingErrorReason, NodeWeightLike } from './errors.js';
export { murmur3, murmur3i32, xxh32, fnv1a32, fmix32, fastRange, type HashFunction } from './hash.js';
export { md5Words } from './md5.js';
export {
  KetamaRing,
  HashRing,
  BoundedLoadRing,
  KETAMA_DEFAULTS,
  HASH_RING_DEFAULTS,
  BOUNDED_LOAD_DEFAULTS,
  type KetamaRingOptions,
  type HashRingOptions,
  type BoundedLoadRingOptions,
} from './ring.js';
export { Rendezvous } from './rendezvous.js';
export { JumpHash, jumpBucket } from './jump.js';
export { MementoHash } from './memento.js';
export { Maglev, MAGLEV_DEFAULTS, isPrime, type MaglevOptions } from './maglev.js';
export {
  SlotTable,
  assignSlots,
  diffSlots,
  slotOf,
  slotQuotas,
  DEFAULT_SLOT_COUNT,
  type SlotAssignment,
  type SlotTableOptions,
} from './slots.js';
export { diffKeys, summarizeMoves, type MoveSummary } from './diff.js';
export { restore } from './snapshot.js';
