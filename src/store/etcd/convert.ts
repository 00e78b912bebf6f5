/**
 * Conversions between the Store contract's values and etcd's wire messages: int64 strings to
 * exact numbers (TENURE_CORRUPT rather than rounding above 2^53), keys to bytes, prefixes to
 * etcd's `range_end`, and compares, ops and results.
 */
import { TenureError } from '../../errors.js';
import { deletedKv } from '../keys.js';
import type { Compare, CompareOp, KeyValue, LeaseId, Op, OpResult, Value, WatchEvent } from '../types.js';
import type { WireKeyValue, WireTxnResponse, WireWatchResponse } from './proto.js';

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

export function toRequestOp(op: Op): Record<string, unknown> {
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
      return {
        request_range: {
          ...(op.prefix ? prefixRange(op.key) : { key: keyBytes(op.key) }),
          limit: String(op.limit ?? 0),
          serializable: op.serializable === true,
        },
      };
  }
}

export function toResult(op: Op, res: WireTxnResponse['responses'][number] | undefined): OpResult {
  switch (op.type) {
    case 'put':
      return { type: 'put' };
    case 'delete':
      return { type: 'delete', deleted: exact(res?.response_delete_range?.deleted, 'deleted') };
    case 'get': {
      const range = res?.response_range;
      return { type: 'get', kvs: (range?.kvs ?? []).map(toKv), more: range?.more ?? false };
    }
  }
}
