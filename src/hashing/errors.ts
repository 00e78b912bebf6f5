/**
 * The errors of tenure/hashing: all `TENURE_INVALID_ARGUMENT` (the call was wrong), told apart by
 * `details.reason` so callers can match without parsing messages.
 */
import { invalidArgument, TenureError } from '../errors.js';

/** `details.reason` values of the errors thrown by tenure/hashing. */
export type HashingErrorReason =
  | 'no-nodes'
  | 'duplicate-node'
  | 'unknown-node'
  | 'bad-node'
  | 'bad-weight'
  | 'bad-count'
  | 'bad-option'
  | 'bad-hash'
  | 'bad-snapshot';

/** @internal */
export function noNodes(what: string): TenureError {
  return invalidArgument('nodes', `of ${what} is empty: add a node before looking keys up`, {
    reason: 'no-nodes',
  });
}

/** @internal */
export function duplicateNode(node: string): TenureError {
  return invalidArgument('node', `"${node}" is already a member: remove it first or pick another id`, {
    reason: 'duplicate-node',
    node,
  });
}

/** @internal */
export function unknownNode(node: string): TenureError {
  return invalidArgument('node', `"${node}" is not a member`, { reason: 'unknown-node', node });
}

/** Checks a member id: a non-empty string. @internal */
export function checkNode(node: unknown): string {
  if (typeof node !== 'string' || node.length === 0) {
    throw invalidArgument('node', `must be a non-empty string, got ${JSON.stringify(node)}`, {
      reason: 'bad-node',
    });
  }
  return node;
}

/** Checks a weight: a finite number > 0 (and exactly 1 when `unweighted`). @internal */
export function checkWeight(weight: unknown, unweighted = false, algorithm = ''): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw invalidArgument('weight', `must be a finite number > 0, got ${String(weight)}`, {
      reason: 'bad-weight',
    });
  }
  if (unweighted && weight !== 1) {
    throw invalidArgument(
      'weight',
      `must be 1: ${algorithm} does not weight members (use rendezvous, maglev or a ring)`,
      {
        reason: 'bad-weight',
      },
    );
  }
  return weight;
}

/** Checks the `n` of lookupN: an integer in 1..size. @internal */
export function checkCount(n: unknown, size: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > size) {
    throw invalidArgument('n', `must be an integer in 1..${size} (the number of members), got ${String(n)}`, {
      reason: size === 0 ? 'no-nodes' : 'bad-count',
      size,
    });
  }
  return n;
}

/** A bad option value, naming the option and its accepted range. @internal */
export function badOption(name: string, accepted: string, value: unknown): TenureError {
  return invalidArgument(name, `must be ${accepted}, got ${String(value)}`, { reason: 'bad-option' });
}

/**
 * A `lookupHash` argument that is not a 32-bit integer (signed, as `murmur3i32` returns, or
 * unsigned, as `murmur3` returns). Thrown from the lookup path, so kept out of line. @internal
 */
export function badHash(hash: unknown): TenureError {
  return invalidArgument(
    'hash',
    `must be a 32-bit integer (murmur3i32(key) or murmur3(key)), got ${String(hash)}`,
    { reason: 'bad-hash' },
  );
}

/** A snapshot this version cannot read. @internal */
export function badSnapshot(problem: string): TenureError {
  return new TenureError('TENURE_CORRUPT', `hashing snapshot ${problem}`, {
    details: { reason: 'bad-snapshot' },
  });
}

/** Normalises the members given to a constructor, rejecting duplicates and bad weights. @internal */
export function normaliseMembers(
  members: Iterable<string | NodeWeightLike> | undefined,
  unweighted = false,
  algorithm = '',
): { node: string; weight: number }[] {
  const out: { node: string; weight: number }[] = [];
  const seen = new Set<string>();
  for (const m of members ?? []) {
    const node = checkNode(typeof m === 'string' ? m : m.node);
    const weight = checkWeight(typeof m === 'string' ? 1 : (m.weight ?? 1), unweighted, algorithm);
    if (seen.has(node)) throw duplicateNode(node);
    seen.add(node);
    out.push({ node, weight });
  }
  return out;
}

/** A member given to a constructor: an id, or an id with an optional weight. */
export interface NodeWeightLike {
  node: string;
  weight?: number;
}
