/**
 * One read of a whole store: every tenure prefix at one revision (one read), and the time
 * each lease holding those keys has left. What `tenure status` prints.
 */
import type { KeyValue, Store } from '../store/types.js';
import { LeaseTracker } from './leases.js';
import { bucketOf, describeFleet, INSPECT_BUCKETS, type FleetSnapshot } from './model.js';

/**
 * The raw keys of every bucket (see INSPECT_BUCKETS), in key order, read at one revision. It
 * reads the store's whole namespace: the entries of etcd's concurrency layout have no prefix of
 * their own (they are wherever their names put them); other applications' keys are dropped.
 */
export async function readKeys(store: Store): Promise<{ revision: number; kvs: Map<string, KeyValue[]> }> {
  const res = await store.txn({ success: [{ type: 'get', key: '', prefix: true }] });
  const read = res.results[0];
  const kvs = new Map<string, KeyValue[]>(INSPECT_BUCKETS.map((b) => [b, []]));
  for (const kv of read?.type === 'get' ? read.kvs : []) {
    const bucket = bucketOf(kv);
    if (bucket !== undefined) kvs.get(bucket)!.push(kv);
  }
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
