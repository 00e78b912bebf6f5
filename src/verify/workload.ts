/**
 * A random register workload over a Store, for recording histories the linearizability checker
 * can judge: reads, blind writes of values never written before, compare-and-sets against the
 * value this client last read, and deletes, on a few keys.
 */
import { invalidArgument } from '../errors.js';
import type { Store } from '../store/types.js';

/** Options of {@link runRegisterWorkload}. */
export interface RegisterWorkloadOptions {
  /** The keys, under this prefix: `<prefix>0`, `<prefix>1`, ... @default 'register/' */
  prefix?: string;
  /** How many keys: fewer keys, more contention. @default 3 */
  keys?: number;
  /** Operations to make (the workload also ends when `signal` aborts). @default 1000 */
  operations?: number;
  /** Seed of the choices, so a run can be repeated. @default 1 */
  seed?: number;
  /** Written into every value, so that values of different clients never collide. @default '0' */
  client?: string;
  /** Ends the workload after the operation in flight. @default none */
  signal?: AbortSignal;
  /** Awaited between operations, to pace the workload (a sleep on the caller's clock). @default none */
  pace?: () => Promise<void>;
}

/** Defaults of {@link RegisterWorkloadOptions}. */
export const REGISTER_WORKLOAD_DEFAULTS = Object.freeze({
  prefix: 'register/',
  keys: 3,
  operations: 1000,
  seed: 1,
  client: '0',
});

/** A small seeded generator (mulberry32): repeatable choices, not for anything secret. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a workload run did. */
export interface RegisterWorkloadStats {
  readonly operations: number;
  /** Calls that threw (counted, not rethrown: a store fault is part of what is tested). */
  readonly errors: number;
}

/**
 * Runs the workload on `store` (wrap it in a RecordingStore to record it). Errors of single
 * calls are counted and the workload goes on, so that faults show up in the history.
 * @throws TENURE_INVALID_ARGUMENT for a bad option (naming it).
 */
export async function runRegisterWorkload(
  store: Store,
  options: RegisterWorkloadOptions = {},
): Promise<RegisterWorkloadStats> {
  const o = { ...REGISTER_WORKLOAD_DEFAULTS, ...options };
  if (!Number.isSafeInteger(o.keys) || o.keys < 1)
    throw invalidArgument('keys', `must be a positive integer (got ${String(o.keys)})`);
  if (!Number.isSafeInteger(o.operations) || o.operations < 0)
    throw invalidArgument('operations', `must be an integer ≥ 0 (got ${String(o.operations)})`);
  const rnd = seededRandom(o.seed);
  const lastRead = new Map<string, string | null>();
  let errors = 0;
  let done = 0;
  for (; done < o.operations && !o.signal?.aborted; done++) {
    const key = `${o.prefix}${Math.floor(rnd() * o.keys)}`;
    const value = `${o.client}:${done}`;
    const r = rnd();
    try {
      if (r < 0.4) {
        const kv = await store.get(key);
        lastRead.set(key, kv ? new TextDecoder().decode(kv.value) : null);
      } else if (r < 0.65) await store.put(key, value);
      else if (r < 0.9) {
        const expect = lastRead.get(key) ?? null;
        await store.txn({
          compare: [
            expect === null
              ? { key, target: 'version', op: '=', value: 0 }
              : { key, target: 'value', op: '=', value: expect },
          ],
          success: [{ type: 'put', key, value }],
        });
      } else await store.delete(key);
    } catch {
      errors++;
    }
    await options.pace?.();
  }
  return { operations: done, errors };
}
