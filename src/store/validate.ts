/**
 * Argument checks shared by every backend, so that each public call rejects bad input the same
 * way: a TENURE_INVALID_ARGUMENT error that names the argument and the accepted range.
 */
import { invalidArgument } from '../errors.js';
import type { Compare, Op, StoreCapabilities, TxnRequest, Value, WatchListener } from './types.js';

/** UTF-8 byte length of a string without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Checks a key (or, with `allowEmpty`, a prefix). */
export function checkKey(
  key: unknown,
  caps: StoreCapabilities,
  name = 'key',
  allowEmpty = false,
): asserts key is string {
  if (typeof key !== 'string') throw invalidArgument(name, `must be a string, got ${typeof key}`);
  if (key.length === 0 && !allowEmpty) throw invalidArgument(name, 'must not be empty');
  if (!key.isWellFormed()) throw invalidArgument(name, 'must be valid Unicode (it has a lone surrogate)');
  if (utf8Length(key) > caps.maxKeyBytes)
    throw invalidArgument(name, `must be at most ${caps.maxKeyBytes} UTF-8 bytes (capabilities.maxKeyBytes)`);
}

/** Checks a value: bytes or a string, within `maxValueBytes`. */
export function checkValue(value: unknown, caps: StoreCapabilities, name = 'value'): asserts value is Value {
  let size: number;
  if (typeof value === 'string') size = Buffer.byteLength(value, 'utf8');
  else if (value instanceof Uint8Array) size = value.byteLength;
  else
    throw invalidArgument(
      name,
      `must be a string or Uint8Array, got ${value === null ? 'null' : typeof value}`,
    );
  if (size > caps.maxValueBytes)
    throw invalidArgument(
      name,
      `must be at most ${caps.maxValueBytes} bytes (capabilities.maxValueBytes), got ${size}`,
    );
}

/** A checked value as bytes (strings are UTF-8 encoded; byte arrays are returned as they are). */
export function toBytes(value: Value): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** Checks a lease id (null/undefined allowed where `optional`). */
export function checkLeaseId(id: unknown, name = 'lease', optional = false): asserts id is string {
  if (optional && (id === null || id === undefined)) return;
  if (typeof id !== 'string' || !/^[0-9]{1,20}$/.test(id))
    throw invalidArgument(name, `must be a lease id string as returned by grant(), got ${String(id)}`);
}

/** Checks a positive integer count or revision. */
export function checkInteger(
  value: unknown,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw invalidArgument(name, `must be an integer in [${min}, ${max}], got ${String(value)}`);
}

/**
 * A network store's `requestTimeoutMs` (100 ms..10 min) and `connectTimeoutMs` (10 ms..10 min, at
 * most the request timeout: a connection is made within some request's time).
 * @throws TENURE_INVALID_ARGUMENT naming the option.
 */
export function checkTimeouts(o: { requestTimeoutMs: number; connectTimeoutMs: number }): void {
  checkInteger(o.requestTimeoutMs, 'options.requestTimeoutMs', 100, 600_000);
  checkInteger(o.connectTimeoutMs, 'options.connectTimeoutMs', 10, 600_000);
  if (o.connectTimeoutMs > o.requestTimeoutMs)
    throw invalidArgument(
      'options.connectTimeoutMs',
      `must be at most options.requestTimeoutMs (${o.requestTimeoutMs})`,
    );
}

/** Checks a ttl and returns it rounded up to the store's granularity and raised to its minimum. */
export function checkTtl(ttlMs: unknown, caps: StoreCapabilities, name = 'ttlMs'): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)
    throw invalidArgument(name, `must be a positive finite number of milliseconds, got ${String(ttlMs)}`);
  if (ttlMs > caps.maxTtlMs)
    throw invalidArgument(name, `must be at most ${caps.maxTtlMs} ms (capabilities.maxTtlMs)`);
  const g = caps.ttlGranularityMs;
  return Math.max(caps.minTtlMs, Math.ceil(ttlMs / g) * g);
}

/** Checks an AbortSignal argument. */
export function checkSignal(signal: unknown, name = 'signal'): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalidArgument(name, 'must be an AbortSignal');
}

/** Checks a {@link WatchListener} argument. */
export function checkListener(listener: unknown, name = 'listener'): asserts listener is WatchListener {
  const l = listener as Partial<WatchListener> | null;
  if (l === null || typeof l !== 'object' || typeof l.batch !== 'function' || typeof l.error !== 'function')
    throw invalidArgument(name, 'must be an object with batch and error functions');
}

function checkCompare(c: Compare, caps: StoreCapabilities, at: string): void {
  if (c === null || typeof c !== 'object') throw invalidArgument(at, 'must be an object');
  checkKey(c.key, caps, `${at}.key`);
  const ops = c.target === 'lease' ? ['=', '!='] : ['=', '!=', '<', '>'];
  if (!ops.includes(c.op)) throw invalidArgument(`${at}.op`, `must be one of ${ops.join(' ')}`);
  switch (c.target) {
    case 'value':
      checkValue(c.value, caps, `${at}.value`);
      return;
    case 'version':
    case 'createRevision':
    case 'modRevision':
      checkInteger(c.value, `${at}.value`, 0);
      return;
    case 'lease':
      checkLeaseId(c.value, `${at}.value`, true);
      return;
    default:
      throw invalidArgument(`${at}.target`, 'must be value, version, createRevision, modRevision or lease');
  }
}

function checkOp(op: Op, caps: StoreCapabilities, at: string): void {
  if (op === null || typeof op !== 'object') throw invalidArgument(at, 'must be an object');
  switch (op.type) {
    case 'put':
      checkKey(op.key, caps, `${at}.key`);
      checkValue(op.value, caps, `${at}.value`);
      checkLeaseId(op.lease, `${at}.lease`, true);
      return;
    case 'delete':
      checkKey(op.key, caps, `${at}.key`, op.prefix === true);
      return;
    case 'get':
      checkKey(op.key, caps, `${at}.key`, op.prefix === true);
      if (op.limit !== undefined) checkInteger(op.limit, `${at}.limit`, 0);
      if (op.serializable !== undefined && typeof op.serializable !== 'boolean')
        throw invalidArgument(`${at}.serializable`, 'must be a boolean');
      checkGetSelection(op, at);
      return;
    default:
      throw invalidArgument(`${at}.type`, 'must be put, delete or get');
  }
}

const ORDERS: readonly string[] = ['key', 'createRevision', 'createRevisionDescending'];

/** Checks a get's `maxCreateRevision` and `order` (`at` names the op or the options object). */
export function checkGetSelection(op: { maxCreateRevision?: unknown; order?: unknown }, at: string): void {
  if (op.maxCreateRevision !== undefined) checkInteger(op.maxCreateRevision, `${at}.maxCreateRevision`, 0);
  if (op.order !== undefined && !ORDERS.includes(op.order as string))
    throw invalidArgument(`${at}.order`, `must be one of ${ORDERS.join(', ')}, got ${String(op.order)}`);
}

/** Checks a whole transaction request. */
export function checkTxn(req: TxnRequest, caps: StoreCapabilities): void {
  if (req === null || typeof req !== 'object') throw invalidArgument('request', 'must be an object');
  const compare = checkList(req.compare, 'compare', caps);
  const success = checkList(req.success, 'success', caps);
  const failure = checkList(req.failure, 'failure', caps);
  for (let i = 0; i < compare.length; i++) checkCompare(compare[i]!, caps, `request.compare[${i}]`);
  for (let i = 0; i < success.length; i++) checkOp(success[i]!, caps, `request.success[${i}]`);
  for (let i = 0; i < failure.length; i++) checkOp(failure[i]!, caps, `request.failure[${i}]`);
  checkNoOverlap(success, 'success');
  checkNoOverlap(failure, 'failure');
}

/**
 * A branch may write each key once: etcd refuses a transaction that puts or deletes one key twice
 * (or puts a key inside a range it deletes), so every backend refuses it the same way.
 */
function checkNoOverlap(ops: readonly Op[], branch: string): void {
  const writes = ops.filter((op) => op.type !== 'get');
  if (writes.length < 2) return;
  for (let i = 0; i < writes.length; i++) {
    for (let j = i + 1; j < writes.length; j++) {
      const a = writes[i]!;
      const b = writes[j]!;
      const covers = (x: Op, y: Op) =>
        x.type === 'delete' && x.prefix === true ? y.key.startsWith(x.key) : x.key === y.key;
      if (covers(a, b) || covers(b, a))
        throw invalidArgument(
          `request.${branch}`,
          `writes key ${JSON.stringify(b.key)} twice; a transaction may write each key once`,
        );
    }
  }
}

function checkList<T>(list: readonly T[] | undefined, name: string, caps: StoreCapabilities): readonly T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalidArgument(`request.${name}`, 'must be an array');
  if (list.length > caps.maxTxnOps)
    throw invalidArgument(
      `request.${name}`,
      `must hold at most ${caps.maxTxnOps} entries (capabilities.maxTxnOps)`,
    );
  return list;
}

/** Whether `value` is a {@link Value}. */
export function isValue(value: unknown): value is Value {
  return typeof value === 'string' || value instanceof Uint8Array;
}

/** TLS material as every network backend takes it: PEM contents, not paths. */
interface TlsMaterial {
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
}

/** Checks that `value`, if given, is PEM text. */
export function checkPem(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'string' && !(value instanceof Uint8Array))
    throw invalidArgument(name, 'must be PEM text (a string or Uint8Array)');
}

/**
 * Checks a backend's `tls` option of the form `boolean | { ca, cert, key }`: `false` is plain
 * TCP, `true` TLS with Node's root CAs, an object TLS with its PEM material (cert and key
 * together, or neither).
 */
export function resolveTls<T extends TlsMaterial>(
  tls: boolean | T,
  name = 'options.tls',
): false | T | Record<string, never> {
  if (tls === false) return false;
  if (tls === true) return {};
  if (tls === null || typeof tls !== 'object')
    throw invalidArgument(name, 'must be a boolean or an object { ca, cert, key }');
  checkPem(tls.ca, `${name}.ca`);
  checkPem(tls.cert, `${name}.cert`);
  checkPem(tls.key, `${name}.key`);
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw invalidArgument(name, 'needs both cert and key, or neither');
  return tls;
}
