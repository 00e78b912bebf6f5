/**
 * One read of a whole store: every tenure prefix at one revision (one transaction), and the time
 * each lease holding those keys has left. What `tenure status` prints.
 */
import type { KeyValue, Store } from '../store/types.js';
import { LeaseTracker } from './leases.js';
import { describeFleet, INSPECT_PREFIXES, type FleetSnapshot } from './model.js';

/** The raw keys under every inspected prefix, read in one transaction (one revision). */
export async function readKeys(store: Store): Promise<{ revision: number; kvs: Map<string, KeyValue[]> }> {
  const res = await store.txn({
    success: INSPECT_PREFIXES.map((key) => ({ type: 'get' as const, key, prefix: true })),
  });
  const kvs = new Map<string, KeyValue[]>();
  INSPECT_PREFIXES.forEach((p, i) => {
    const r = res.results[i];
    kvs.set(p, r?.type === 'get' ? [...r.kvs] : []);
  });
  return { revision: res.revision, kvs };
}

/** Every lease that holds a key in `kvs`. */
export function leasesOf(kvs: ReadonlyMap<string, readonly KeyValue[]>): Set<string> {
  const leases = new Set<string>();
  for (const list of kvs.values()) for (const kv of list) if (kv.lease !== null) leases.add(kv.lease);
  return leases;
}

/**
 * The fleet in `store` now: every election, lock, member, slot map and session (with the time
 * its lease has left), and the keys no layout could decode.
 * @throws what the store's read threw.
 * @example
 * ```ts
 * const fleet = await inspectStore(store);
 * for (const e of fleet.elections) console.log(e.name, e.leader?.value, e.term);
 * ```
 */
export async function inspectStore(store: Store): Promise<FleetSnapshot> {
  const { revision, kvs } = await readKeys(store);
  const leases = new LeaseTracker(store);
  await leases.look(leasesOf(kvs));
  return describeFleet(revision, kvs, (l) => leases.info(l));
}
