/**
 * The sequential specification of one key of the Store, for the linearizability checker: the
 * state is the key's value (`null` when absent), and each operation either fits the state (and
 * moves it on) or does not.
 *
 * Operations, as they appear in a history (`op`, `args`, `result` on `ok`):
 * - `get`    args `{ key }`, result `{ value: string | null }`
 * - `put`    args `{ key, value: string }`
 * - `delete` args `{ key }`, result `{ deleted?: number }` (0 or 1, checked when present)
 * - `cas`    args `{ key, expect: string | null, value: string | null }` (`expect` null: the key
 *   must be absent; `value` null: delete it), result `{ succeeded: boolean }`
 *
 * A key's operations never read or change another key, so a history is linearizable exactly when
 * each key's sub-history is (P-compositionality: Herlihy and Wing's locality of linearizability).
 */
import { invalidArgument } from '../errors.js';
import type { Operation } from './history.js';

/** A key's value in the model: its text, or null when the key is absent. */
export type KvState = string | null;

/** A checked key-value operation, parsed from an {@link Operation}. */
export type KvOp =
  | { readonly kind: 'get'; readonly key: string; readonly value: KvState | undefined }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string; readonly deleted: number | undefined }
  | {
      readonly kind: 'cas';
      readonly key: string;
      readonly expect: KvState;
      readonly value: KvState;
      /** Undefined when the outcome is unknown (`info`). */
      readonly succeeded: boolean | undefined;
    };

/** The operation names the key-value checker understands. */
export const KV_OPERATIONS: ReadonlySet<string> = new Set(['get', 'put', 'delete', 'cas']);

const isState = (v: unknown): v is KvState => v === null || typeof v === 'string';

function field(obj: unknown, name: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[name] : undefined;
}

/**
 * Parses a completed or `info` operation into a {@link KvOp}.
 * @throws TENURE_INVALID_ARGUMENT naming the operation and the bad field.
 */
export function parseKvOp(op: Operation): KvOp {
  const where = `operation ${op.index} (${op.op} by process ${String(op.process)})`;
  const key = field(op.args, 'key');
  if (typeof key !== 'string' || key === '')
    throw invalidArgument(`${where} args.key`, 'must be a non-empty string');
  const known = op.status === 'ok';
  switch (op.op) {
    case 'get': {
      const value = field(op.result, 'value');
      if (known && !isState(value))
        throw invalidArgument(`${where} result.value`, 'must be a string or null');
      return { kind: 'get', key, value: known ? (value as KvState) : undefined };
    }
    case 'put': {
      const value = field(op.args, 'value');
      if (typeof value !== 'string') throw invalidArgument(`${where} args.value`, 'must be a string');
      return { kind: 'put', key, value };
    }
    case 'delete': {
      const deleted = known ? field(op.result, 'deleted') : undefined;
      if (deleted !== undefined && deleted !== 0 && deleted !== 1)
        throw invalidArgument(`${where} result.deleted`, 'must be 0 or 1 when present');
      return { kind: 'delete', key, deleted: deleted as number | undefined };
    }
    case 'cas': {
      const expect = field(op.args, 'expect');
      const value = field(op.args, 'value');
      if (!isState(expect)) throw invalidArgument(`${where} args.expect`, 'must be a string or null');
      if (!isState(value)) throw invalidArgument(`${where} args.value`, 'must be a string or null');
      const succeeded = known ? field(op.result, 'succeeded') : undefined;
      if (known && typeof succeeded !== 'boolean')
        throw invalidArgument(`${where} result.succeeded`, 'must be a boolean');
      return { kind: 'cas', key, expect, value, succeeded: succeeded as boolean | undefined };
    }
    default:
      throw invalidArgument(`${where} op`, `is not one of ${[...KV_OPERATIONS].join(', ')}`);
  }
}

/** Whether an operation can change its key (reads cannot). */
export function isWrite(op: KvOp): boolean {
  return op.kind !== 'get';
}

/**
 * Applies `op` to `state`: the next state, or `undefined` when the operation's result cannot have
 * come from `state` (an unknown result fits any state).
 */
export function stepKv(state: KvState, op: KvOp): KvState | undefined {
  switch (op.kind) {
    case 'get':
      return op.value === undefined || op.value === state ? state : undefined;
    case 'put':
      return op.value;
    case 'delete':
      if (op.deleted !== undefined && op.deleted !== (state === null ? 0 : 1)) return undefined;
      return null;
    case 'cas': {
      const holds = state === op.expect;
      if (op.succeeded !== undefined && op.succeeded !== holds) return undefined;
      return holds ? op.value : state;
    }
  }
}

/** A short text for an operation: `put x "1"`, `cas x "1"→"2" ok`. */
export function describeKvOp(op: KvOp): string {
  const v = (s: KvState | undefined) => (s === undefined ? '?' : s === null ? 'absent' : JSON.stringify(s));
  switch (op.kind) {
    case 'get':
      return `get ${op.key} → ${v(op.value)}`;
    case 'put':
      return `put ${op.key} ${v(op.value)}`;
    case 'delete':
      return `delete ${op.key}${op.deleted === undefined ? '' : ` → ${op.deleted}`}`;
    case 'cas':
      return `cas ${op.key} ${v(op.expect)}→${v(op.value)} ${op.succeeded === undefined ? '?' : op.succeeded ? 'succeeded' : 'failed'}`;
  }
}

/** The values an operation mentions (what a window's unknown start state may usefully be). */
export function mentionedValues(op: KvOp): KvState[] {
  switch (op.kind) {
    case 'get':
      return op.value === undefined ? [] : [op.value];
    case 'put':
      return [op.value];
    case 'delete':
      return [null];
    case 'cas':
      return [op.expect, op.value];
  }
}
