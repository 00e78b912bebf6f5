/**
 * The JSON a transaction travels in to the server's functions (schema.ts) and back: keys and
 * values as hex, lease ids as numbers (0 for none).
 */
import { leaseNotFound } from '../errors.js';
import type { Compare, KeyValue, LeaseId, Op, OpResult, TxnRequest, WatchEvent } from '../types.js';
import { toBytes } from '../validate.js';

const hex = (key: string) => Buffer.from(key, 'utf8').toString('hex');

/** The first key after every key starting with `prefix` (etcd's range_end), as hex, or null for none. */
export function prefixEndHex(prefix: string): string | null {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1).toString('hex');
    }
  }
  return null;
}

/** The stored number of a lease id, or -1 for an id no lease of this store can have. */
export function leaseNumber(id: LeaseId): number {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return -1;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : -1;
}

const COMPARE_TARGET = {
  value: 'v',
  version: 'ver',
  createRevision: 'c',
  modRevision: 'm',
  lease: 'l',
} as const;

function compareJson(c: Compare): unknown {
  const t = COMPARE_TARGET[c.target];
  let v: unknown;
  if (c.target === 'value') v = Buffer.from(toBytes(c.value)).toString('hex');
  else if (c.target === 'lease') v = c.value === null ? 0 : leaseNumber(c.value);
  else v = c.value;
  return { k: hex(c.key), t, o: c.op, v };
}

function opJson(op: Op): unknown {
  switch (op.type) {
    case 'get':
      return {
        t: 'g',
        k: hex(op.key),
        p: op.prefix === true,
        e: op.prefix === true ? prefixEndHex(op.key) : null,
        n: op.limit ?? 0,
        x: op.maxCreateRevision ?? null,
        o: op.order === 'createRevision' ? 'c' : op.order === 'createRevisionDescending' ? 'cd' : 'key',
      };
    case 'put': {
      const l = op.lease == null ? 0 : leaseNumber(op.lease);
      if (l < 0) throw leaseNotFound(op.lease!);
      return { t: 'p', k: hex(op.key), v: Buffer.from(toBytes(op.value)).toString('hex'), l };
    }
    case 'delete':
      return {
        t: 'd',
        k: hex(op.key),
        p: op.prefix === true,
        e: op.prefix === true ? prefixEndHex(op.key) : null,
      };
  }
}

/** The JSON text of a transaction request (`retain`: the history to keep). */
export function encodeRequest(request: TxnRequest, retain: number): string {
  return JSON.stringify({
    c: (request.compare ?? []).map(compareJson),
    s: (request.success ?? []).map(opJson),
    f: (request.failure ?? []).map(opJson),
    k: retain,
  });
}

type KvJson = [key: string, value: string, create: number, mod: number, version: number, lease: number];

function toKv(row: KvJson): KeyValue {
  return {
    key: Buffer.from(row[0], 'hex').toString('utf8'),
    value: Buffer.from(row[1], 'hex'),
    createRevision: row[2],
    modRevision: row[3],
    version: row[4],
    lease: row[5] === 0 ? null : String(row[5]),
  };
}

/** A function's answer to a transaction. */
export interface TxnJson {
  ok: boolean;
  rev: number;
  r: ({ g: KvJson[]; m: boolean } | { p: 1 } | { d: number })[];
  reap?: boolean;
}

/** The op results of a transaction's answer. */
export function decodeResults(res: TxnJson): OpResult[] {
  return res.r.map((r): OpResult => {
    if ('g' in r) return { type: 'get', kvs: r.g.map(toKv), more: r.m };
    if ('d' in r) return { type: 'delete', deleted: r.d };
    return { type: 'put' };
  });
}

/** A row of `changes`: [deleted, key, value, create, mod, version, lease]. */
export type EventJson = [deleted: boolean, ...KvJson];

/** A watch event from a changelog row. */
export function toEvent(row: EventJson): WatchEvent {
  const [deleted, ...kv] = row;
  return { type: deleted ? 'delete' : 'put', kv: toKv(kv) };
}
