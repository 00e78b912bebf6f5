/**
 * The wire format between the Redis backend and its script (script.lua.ts): a transaction as a
 * flat list of script arguments, and the script's replies (key records, change-log entries) back
 * into KeyValues and WatchEvents. Replies arrive as Buffers, so values keep their bytes.
 */
import { TenureError } from '../../errors.js';
import { deletedKv } from '../keys.js';
import type { Compare, KeyValue, Op, OpResult, TxnRequest, WatchEvent } from '../types.js';

const TARGET: Record<Compare['target'], string> = {
  value: 'v',
  version: 'V',
  createRevision: 'c',
  modRevision: 'm',
  lease: 'l',
};

type Arg = string | Buffer;

function valueArg(value: string | Uint8Array): Arg {
  return typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function opArgs(op: Op): Arg[] {
  switch (op.type) {
    case 'put':
      return ['p', op.key, valueArg(op.value), op.lease ?? ''];
    case 'delete':
      return ['d', op.key, op.prefix === true ? '1' : '0', ''];
    case 'get':
      return ['g', op.key, op.prefix === true ? '1' : '0', String(op.limit ?? 0)];
  }
}

/** The script arguments after the command name and retention of a `txn` call. */
export function txnArgs(request: TxnRequest): Arg[] {
  const compare = request.compare ?? [];
  const success = request.success ?? [];
  const failure = request.failure ?? [];
  const args: Arg[] = [String(compare.length)];
  for (const c of compare) {
    const value =
      c.target === 'value' ? valueArg(c.value) : c.target === 'lease' ? (c.value ?? '') : String(c.value);
    args.push(c.key, TARGET[c.target], c.op === '!=' ? '!' : c.op, value);
  }
  args.push(String(success.length));
  for (const op of success) args.push(...opArgs(op));
  args.push(String(failure.length));
  for (const op of failure) args.push(...opArgs(op));
  return args;
}

function corrupt(what: string): TenureError {
  return new TenureError('TENURE_CORRUPT', `the Redis store holds a malformed ${what}`);
}

/** Reads the decimal number at `buf[from..to)`. */
function decimal(buf: Buffer, from: number, to: number): number {
  const n = Number(buf.toString('latin1', from, to));
  if (!Number.isSafeInteger(n)) throw corrupt('number');
  return n;
}

/** A key's record `create,mod,version,lease;value` as a KeyValue. */
export function decodeRecord(key: string, rec: Buffer): KeyValue {
  const end = rec.indexOf(0x3b); // ';'
  if (end < 0) throw corrupt('record');
  const head = rec.toString('latin1', 0, end).split(',');
  if (head.length !== 4) throw corrupt('record');
  const num = (s: string) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw corrupt('record');
    return n;
  };
  return {
    key,
    value: new Uint8Array(rec.subarray(end + 1)),
    createRevision: num(head[0]!),
    modRevision: num(head[1]!),
    version: num(head[2]!),
    lease: head[3] === '' ? null : head[3]!,
  };
}

/** The result of one op from the script's reply for it. */
export function decodeResult(op: Op, reply: unknown): OpResult {
  switch (op.type) {
    case 'put':
      return { type: 'put' };
    case 'delete':
      return { type: 'delete', deleted: Number(reply) };
    case 'get': {
      const list = reply as (number | Buffer)[];
      const kvs: KeyValue[] = [];
      for (let i = 1; i + 1 < list.length; i += 2) {
        const key = (list[i] as Buffer).toString('utf8');
        kvs.push(decodeRecord(key, list[i + 1] as Buffer));
      }
      return { type: 'get', kvs, more: list[0] === 1 };
    }
  }
}

/** The revision of a stream entry id `rev-0`. */
export function entryRevision(id: Buffer | string): number {
  const text = typeof id === 'string' ? id : id.toString('latin1');
  const dash = text.indexOf('-');
  const n = Number(dash < 0 ? text : text.slice(0, dash));
  if (!Number.isSafeInteger(n)) throw corrupt('change-log entry id');
  return n;
}

/** One key's change in a change-log entry: the key, and its new record for a put. */
export interface LogChange {
  readonly key: string;
  /** The record `create,mod,version,lease;value` of a put; undefined for a delete. */
  readonly record: Buffer | undefined;
}

/** A change-log entry, parsed once for every watch it is handed to. */
export interface LogEntry {
  readonly revision: number;
  /** False for an epoch marker (written when a restart was detected): it has no changes. */
  readonly changes: readonly LogChange[] | false;
}

/** Parses one change-log entry (`[id, [field, value, ...]]`). */
export function parseEntry(entry: unknown): LogEntry {
  const [id, fields] = entry as [Buffer, Buffer[]];
  const revision = entryRevision(id);
  if (fields[0]?.toString('latin1') !== 'e') return { revision, changes: false };
  const blob = fields[1]!;
  const changes: LogChange[] = [];
  let at = 0;
  const chunk = (): Buffer => {
    const colon = blob.indexOf(0x3a, at);
    if (colon < 0) throw corrupt('change-log entry');
    const len = decimal(blob, at, colon);
    const out = blob.subarray(colon + 1, colon + 1 + len);
    at = colon + 1 + len;
    return out;
  };
  while (at < blob.length) {
    const type = blob[at++];
    const key = chunk().toString('utf8');
    if (type === 0x70 /* p */) changes.push({ key, record: chunk() });
    else if (type === 0x64 /* d */) changes.push({ key, record: undefined });
    else throw corrupt('change-log entry');
  }
  return { revision, changes };
}

/** The events of a parsed entry whose keys `match`; a record is decoded only for those. */
export function entryEvents(entry: LogEntry, match: (key: string) => boolean): WatchEvent[] {
  const events: WatchEvent[] = [];
  if (entry.changes === false) return events;
  for (const change of entry.changes) {
    if (!match(change.key)) continue;
    events.push(
      change.record === undefined
        ? { type: 'delete', kv: deletedKv(change.key, entry.revision) }
        : { type: 'put', kv: decodeRecord(change.key, change.record) },
    );
  }
  return events;
}
