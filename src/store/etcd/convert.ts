/**
 * Conversions between the Store contract's values and etcd's wire messages: int64 strings to
 * exact numbers (TENURE_CORRUPT rather than rounding above 2^53), keys to bytes, prefixes to
 * etcd's `range_end`, and compares, ops and results.
 */
import { TenureError } from '../../errors.js';
import { isSelective, selectKvs } from '../base.js';
import { compareKeys, deletedKv } from '../keys.js';
import type {
  Compare,
  CompareOp,
  GetOp,
  KeyValue,
  LeaseId,
  Op,
  OpResult,
  Value,
  WatchEvent,
} from '../types.js';
import type { WireKeyValue, WireRangeResponse, WireTxnResponse, WireWatchResponse } from './proto.js';

/** An etcd int64 (decimal string) as an exact JavaScript number. */
export function exact(value: string | undefined, what: string): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new TenureError(
      'TENURE_CORRUPT',
      `etcd returned ${what} ${value}, beyond 2^53: tenure cannot represent it exactly`,
      {
        details: { [what]: value },
      },
    );
  return n;
}

/** A lease id as sent to etcd ('0' is "no lease"). */
export function wireLease(id: LeaseId | null | undefined): string {
  return id === null || id === undefined ? '0' : id;
}

/** Whether a lease id string can name an etcd lease (a positive int64). */
export function isPossibleLease(id: LeaseId): boolean {
  const n = BigInt(id);
  return n > 0n && n < 2n ** 63n;
}

/** A value as bytes for the wire (already validated by StoreBase); Uint8Arrays are not copied. */
export function wireBytes(value: Value): Buffer {
  return typeof value === 'string'
    ? Buffer.from(value, 'utf8')
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

/**
 * The key range of a prefix: `[key, range_end)`. The empty prefix is etcd's "every key":
 * key `\0`, range_end `\0`.
 */
export function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  if (prefix === '') return { key: Buffer.from([0]), range_end: Buffer.from([0]) };
  const key = keyBytes(prefix);
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return { key, range_end: end.subarray(0, i + 1) };
    }
  }
  return { key, range_end: Buffer.from([0]) };
}

export function toKv(kv: WireKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: new Uint8Array(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength),
    createRevision: exact(kv.create_revision, 'createRevision'),
    modRevision: exact(kv.mod_revision, 'modRevision'),
    version: exact(kv.version, 'version'),
    lease: kv.lease === '0' || kv.lease === '' ? null : kv.lease,
  };
}

export function toEvent(e: WireWatchResponse['events'][number]): WatchEvent {
  if (e.type === 'DELETE')
    return {
      type: 'delete',
      kv: deletedKv(e.kv.key.toString('utf8'), exact(e.kv.mod_revision, 'modRevision')),
    };
  return { type: 'put', kv: toKv(e.kv) };
}

const RESULT: Record<CompareOp, string> = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' };

/**
 * A contract compare as an etcd compare. etcd already treats a missing key as the contract does
 * (version, revisions and lease 0; a value compare false), so no rewriting is needed.
 */
export function toCompare(c: Compare): Record<string, unknown> {
  const base = { result: RESULT[c.op], key: keyBytes(c.key) };
  switch (c.target) {
    case 'value':
      return { ...base, target: 'VALUE', value: wireBytes(c.value) };
    case 'version':
      return { ...base, target: 'VERSION', version: String(c.value) };
    case 'createRevision':
      return { ...base, target: 'CREATE', create_revision: String(c.value) };
    case 'modRevision':
      return { ...base, target: 'MOD', mod_revision: String(c.value) };
    case 'lease':
      return { ...base, target: 'LEASE', lease: wireLease(c.value) };
  }
}

/**
 * An op as an etcd RequestOp. `native` (see {@link nativeGets}): whether a selective get is
 * answered by etcd's own selection, or read whole and selected by {@link toResult}.
 */
export function toRequestOp(op: Op, native = true): Record<string, unknown> {
  switch (op.type) {
    case 'put':
      return {
        request_put: {
          key: keyBytes(op.key),
          value: wireBytes(op.value),
          lease: wireLease(op.lease),
        },
      };
    case 'delete':
      return { request_delete_range: op.prefix ? prefixRange(op.key) : { key: keyBytes(op.key) } };
    case 'get':
      return { request_range: toRangeRequest(op, native) };
  }
}

/**
 * A get as etcd's RangeRequest. A selective get (a create-revision bound or order, see
 * {@link isSelective}) is sent with etcd's own `max_create_revision`, `sort_target` CREATE and
 * `sort_order`, and `limit` + 1, so that only the few keys asked for cross the wire and are
 * decoded (O(limit) here instead of O(keys under the prefix); etcd itself still scans the range,
 * it has no create-revision index). The extra key tells {@link boundaryTie} whether the limit cut
 * through keys of one create revision, and makes `more` exact. With `native` false it is a plain
 * read of the whole range, selected here by {@link toResult}.
 */
function toRangeRequest(op: GetOp, native: boolean): Record<string, unknown> {
  const range = op.prefix ? prefixRange(op.key) : { key: keyBytes(op.key) };
  const serializable = op.serializable === true;
  if (!isSelective(op)) return { ...range, limit: String(op.limit ?? 0), serializable };
  if (!native) return { ...range, serializable };
  const limit = op.limit ?? 0;
  const order = op.order ?? 'key';
  // etcd reads max_create_revision 0 as "no bound"; the contract's 0 selects nothing, so ask for
  // as little as possible and answer empty (toResult).
  if (op.maxCreateRevision === 0) return { ...range, serializable, limit: '1', keys_only: true };
  return {
    ...range,
    serializable,
    limit: String(limit > 0 ? limit + 1 : 0),
    ...(op.maxCreateRevision !== undefined && { max_create_revision: String(op.maxCreateRevision) }),
    ...(order !== 'key' && {
      sort_target: 'CREATE',
      sort_order: order === 'createRevision' ? 'ASCEND' : 'DESCEND',
    }),
  };
}

/**
 * Whether etcd can answer a branch's selective gets itself: one per op of the branch, true for a
 * selective get that no later write of the branch touches. etcd sorts by create revision alone,
 * and keys created in one revision (one transaction) come back in no set order, so a limit can
 * cut through them; {@link boundaryTie} then asks for all keys of that revision, at the
 * revision the transaction was answered at. That read sees the branch's own later writes, which
 * the get did not: such a get is read whole instead and selected here, exactly.
 */
export function nativeGets(ops: readonly Op[]): boolean[] {
  return ops.map(
    (op, i) =>
      op.type !== 'get' ||
      !isSelective(op) ||
      !ops
        .slice(i + 1)
        .some((w) => w.type !== 'get' && touches(op, w.key, w.type === 'delete' && w.prefix === true)),
  );
}

/** Whether a write of `key` (a whole range when `prefix`) can change what `get` reads. */
function touches(get: GetOp, key: string, prefix: boolean): boolean {
  // Keys are well-formed Unicode (validate.ts), so a string prefix is exactly a UTF-8 byte prefix.
  if (prefix && get.key.startsWith(key)) return true;
  return get.prefix === true
    ? key.startsWith(get.key) || (prefix && get.key.startsWith(key))
    : key === get.key;
}

function byCreate(a: KeyValue, b: KeyValue): number {
  return a.createRevision - b.createRevision || compareKeys(a.key, b.key);
}

/** The contract's order of a selective get: by create revision, ties by key (reversed when descending). */
function contractOrder(op: GetOp): ((a: KeyValue, b: KeyValue) => number) | undefined {
  switch (op.order ?? 'key') {
    case 'key':
      return undefined;
    case 'createRevision':
      return byCreate;
    case 'createRevisionDescending':
      return (a, b) => byCreate(b, a);
  }
}

/**
 * The create revision whose keys the limit of a native selective get cut through (the last key
 * kept and the extra one share it), or undefined when the answer is complete as it is. The
 * caller then reads every key of that revision ({@link tieRequest}) and passes them to
 * {@link toResult}. Only a transaction that creates several keys under one prefix makes ties.
 */
export function boundaryTie(op: Op, range: WireRangeResponse | undefined): number | undefined {
  if (op.type !== 'get' || !isSelective(op) || contractOrder(op) === undefined) return undefined;
  const limit = op.limit ?? 0;
  const kvs = range?.kvs ?? [];
  if (limit === 0 || kvs.length <= limit) return undefined;
  // etcd returns them sorted by create revision: the last two are the kept one and the extra one.
  const kept = exact(kvs[limit - 1]!.create_revision, 'createRevision');
  return kept === exact(kvs[limit]!.create_revision, 'createRevision') ? kept : undefined;
}

/**
 * The read of every key of `op`'s range created at `createRevision`, at store revision
 * `revision` (the one the get was answered at).
 */
export function tieRequest(op: GetOp, createRevision: number, revision: number): Record<string, unknown> {
  return {
    ...(op.prefix ? prefixRange(op.key) : { key: keyBytes(op.key) }),
    revision: String(revision),
    min_create_revision: String(createRevision),
    max_create_revision: String(createRevision),
    // Linearizable even for a serializable get: the member that answers may not be the one that
    // answered the get, and a member behind `revision` refuses a serializable read at it.
    serializable: false,
  };
}

/** A selective get's answer from etcd's (limit + 1) keys, completed by the keys of a cut revision. */
function selected(op: GetOp, wire: readonly WireKeyValue[], ties: readonly WireKeyValue[] | undefined) {
  if (op.maxCreateRevision === 0) return { kvs: [], more: false };
  let kvs = wire.map(toKv);
  if (ties !== undefined && kvs.length > 0) {
    const cut = kvs[(op.limit ?? 0) - 1]!.createRevision;
    kvs = [...kvs.filter((kv) => kv.createRevision !== cut), ...ties.map(toKv)];
  }
  const order = contractOrder(op);
  if (order !== undefined) kvs.sort(order);
  const limit = op.limit ?? 0;
  const more = limit > 0 && kvs.length > limit;
  return { kvs: more ? kvs.slice(0, limit) : kvs, more };
}

/**
 * An op's result from etcd's response. `native` must be what the op was sent with
 * ({@link toRequestOp}); `ties`, every key of the revision {@link boundaryTie} named.
 */
export function toResult(
  op: Op,
  res: WireTxnResponse['responses'][number] | undefined,
  native = true,
  ties?: readonly WireKeyValue[],
): OpResult {
  switch (op.type) {
    case 'put':
      return { type: 'put' };
    case 'delete':
      return { type: 'delete', deleted: exact(res?.response_delete_range?.deleted, 'deleted') };
    case 'get': {
      const range = res?.response_range;
      if (!isSelective(op))
        return { type: 'get', kvs: (range?.kvs ?? []).map(toKv), more: range?.more ?? false };
      const kvs = range?.kvs ?? [];
      return { type: 'get', ...(native ? selected(op, kvs, ties) : selectKvs(kvs.map(toKv), op)) };
    }
  }
}
