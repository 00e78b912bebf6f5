/**
 * What moved between two placements: the keys whose owner changed, and a summary of the flows.
 */
import type { ConsistentHash, Move } from './types.js';

/**
 * The keys whose owner differs between `before` and `after`, in the order given.
 * Pass `before.snapshot()` restored, or two instances, to compare a planned change with now.
 * @example
 * ```ts
 * const before = restore(ring.snapshot());
 * ring.remove('b');
 * diffKeys(before, ring, keys); // [{ key: 'user:7', from: 'b', to: 'c' }, ...]
 * ```
 */
export function diffKeys(
  before: ConsistentHash,
  after: ConsistentHash,
  keys: Iterable<string>,
): Move<string>[] {
  const moves: Move<string>[] = [];
  for (const key of keys) {
    const from = before.lookup(key);
    const to = after.lookup(key);
    if (from !== to) moves.push({ key, from, to });
  }
  return moves;
}

/** Counts of moves, by source and by destination, and between each pair. */
export interface MoveSummary {
  /** Number of moves. */
  moved: number;
  /** Moves out of each member. */
  from: Map<string, number>;
  /** Moves into each member. */
  to: Map<string, number>;
  /** Moves per `from→to` pair, keyed `"from\u0000to"`. */
  flows: Map<string, number>;
}

/**
 * Summarises moves, e.g. to check that after removing `b` every move starts at `b`
 * (`summary.from.size === 1`), the minimal-disruption property.
 * @example summarizeMoves(diffKeys(a, b, keys)).moved
 */
export function summarizeMoves<K>(moves: Iterable<Move<K>>): MoveSummary {
  const summary: MoveSummary = { moved: 0, from: new Map(), to: new Map(), flows: new Map() };
  for (const { from, to } of moves) {
    summary.moved++;
    summary.from.set(from, (summary.from.get(from) ?? 0) + 1);
    summary.to.set(to, (summary.to.get(to) ?? 0) + 1);
    const pair = `${from}\u0000${to}`;
    summary.flows.set(pair, (summary.flows.get(pair) ?? 0) + 1);
  }
  return summary;
}
