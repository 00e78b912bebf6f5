/**
 * The key layout of etcd's own `client/v3/concurrency` package, the one home of it in tenure.
 * Under `{ layout: 'etcd' }` a {@link Mutex} and an {@link Election} write their queue keys the
 * way etcd's `concurrency.Mutex` / `concurrency.Election` (and so `etcdctl lock` / `etcdctl elect`)
 * write theirs, so that all of them, on one etcd, queue in one line and exclude each other.
 *
 * etcd's layout, for a name `pfx` (what `NewMutex(s, pfx)` / `NewElection(s, pfx)` are given):
 * - the queue is every key under `pfx + "/"` (etcd appends the slash: `"/my-lock/"` becomes the
 *   prefix `"/my-lock//"`);
 * - a session's entry is that prefix followed by its lease id in lowercase hexadecimal, without
 *   leading zeros (Go's `%x`): one entry per session per name, shared by a Mutex and an Election
 *   of that name;
 * - a Mutex entry's value is empty (etcd never reads it); an Election entry's value is the
 *   proclaimed value;
 * - the entry with the lowest create revision holds (leads); the others wait until every entry
 *   with a lower create revision is deleted. The holder's create revision is the fencing token
 *   (tenure's `fencingToken` and `term`; etcd's `Mutex.Header().Revision` / `Election.Rev()`).
 *
 * tenure's queue (queue.ts) orders and waits by create revision too, so tenure's waiters and
 * etcd's wait behind each other in one FIFO line whoever wrote which key.
 *
 * **Namespaces.** These keys are written inside the store's namespace like every other tenure
 * key, and etcd URLs default to the `tenure/` namespace: to share a lock with `etcdctl lock NAME`
 * or a Go service, open the store at the prefix the other side uses — `etcd://host:2379?namespace=`
 * (empty) for keys at the root, or the Go side's `namespace.NewKV` prefix if it has one.
 * (`tenure lock --layout etcd` and `tenure elect --layout etcd` open at the root unless the URL
 * names a namespace.)
 *
 * Names follow etcd rather than tenure: any text without control characters, `/` included, so
 * that `"/locks/billing"` names what a Go service named `"/locks/billing"`. As in etcd, the queue
 * of `a` takes in the keys of `a/b` (they are under `a/`): do not name one lock the other's
 * prefix plus a slash.
 *
 * One key per session per name means the key is reused from one lock to the next: a second lock
 * of a name in a session, while its key is still there (held, waiting, or its release not yet
 * confirmed), is refused (queue.ts, enqueue) rather than sharing the key as etcd's Mutex does,
 * and a removal deletes only the entry it was made for (queue.ts, removeKey).
 *
 * **Reading it back** ({@link describe}): a key is an entry of etcd's layout when its last
 * segment is its own lease id in lowercase hexadecimal, which no tenure key and hardly any other
 * key is. The layout does not say whether a queue is a Mutex's or an Election's (both write the
 * same key): a Mutex writes an empty value (etcd's, `etcdctl lock`, tenure's without `owner`), an
 * Election its proclaimed value, so a queue whose values are all empty reads as a mutex and any
 * other as an election.
 */
import { invalidArgument } from '../../errors.js';
import type { KeyValue, LeaseId } from '../../store/types.js';
import type { QueueLayout } from './queue.js';
import { decodeText, toEntry, type QueueEntry } from './queue-layout.js';
import type { Session } from './session.js';

/** Whose key layout a Mutex or an Election uses. */
export type Layout = 'tenure' | 'etcd';

/** The accepted layouts. */
export const LAYOUTS: readonly Layout[] = Object.freeze(['tenure', 'etcd']);

/** The value etcd's Mutex writes into its key (tenure's Mutex under the etcd layout writes its `owner` option, if given, else this). */
export const ETCD_MUTEX_VALUE = '';

/** Longest name accepted under the etcd layout, in characters (etcd's own limit is its request size). */
const MAX_NAME_LENGTH = 512;

// C0 and C1 control characters and DEL: they would reach terminals through status and logs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Checks a layout option.
 * @throws TENURE_INVALID_ARGUMENT naming `argument` for anything but `'tenure'` or `'etcd'`.
 */
export function checkLayout(layout: unknown, argument = 'options.layout'): Layout {
  if (layout === undefined) return 'tenure';
  if (layout !== 'tenure' && layout !== 'etcd')
    throw invalidArgument(argument, `must be 'tenure' or 'etcd', got ${JSON.stringify(layout)}`);
  return layout;
}

/**
 * Checks a name under the etcd layout: 1–512 characters of well-formed Unicode without control
 * characters. Unlike tenure's names, it may contain `/` (etcd's names are key prefixes).
 * @throws TENURE_INVALID_ARGUMENT naming `argument`.
 */
export function checkEtcdName(name: unknown, argument = 'name'): asserts name is string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    !name.isWellFormed() ||
    CONTROL.test(name)
  )
    throw invalidArgument(
      argument,
      `must be 1-${MAX_NAME_LENGTH} characters without control characters under the etcd layout, got ${JSON.stringify(name)}`,
    );
}

/** The queue prefix of `name` in etcd's layout: the name and a slash. */
export function etcdPrefix(name: string): string {
  return `${name}/`;
}

/**
 * A session's one key under `prefix` in etcd's layout: the prefix and the lease id in lowercase
 * hexadecimal. Store lease ids are decimal strings (etcd's int64); BigInt keeps them exact.
 * @throws TENURE_INVALID_ARGUMENT when the lease id is not a decimal integer (a store whose
 * leases etcd's layout cannot name).
 */
export function etcdKey(prefix: string, lease: LeaseId): string {
  if (!/^[0-9]+$/.test(lease))
    throw invalidArgument(
      'session',
      `has lease id ${JSON.stringify(lease)}, which etcd's layout cannot name`,
    );
  return `${prefix}${BigInt(lease).toString(16)}`;
}

/** etcd's layout as a queue layout (see QueueRecipe). */
export const ETCD_QUEUE_LAYOUT: QueueLayout = Object.freeze({
  checkName: (name: string) => checkEtcdName(name),
  prefix: etcdPrefix,
  key: (session: Session, prefix: string) => etcdKey(prefix, session.lease),
});

/** Whether `kv` is an entry of etcd's layout: `<name>/<its own lease id in lowercase hex>`. */
export function isEtcdEntry(kv: KeyValue): boolean {
  if (kv.lease === null || !/^[0-9]+$/.test(kv.lease)) return false;
  const slash = kv.key.lastIndexOf('/');
  return slash > 0 && kv.key.slice(slash + 1) === BigInt(kv.lease).toString(16);
}

/** One queue of etcd's layout, decoded. */
export interface EtcdQueueDescription {
  /** The name etcd's clients give (`etcdctl lock NAME`), without the slash they append. */
  readonly name: string;
  /** `mutex` when every entry's value is empty (what a Mutex writes), else `election`. */
  readonly kind: 'mutex' | 'election';
  /** Every entry in queue order: the holder (the leader) first; its token is the fencing token (term). */
  readonly entries: readonly QueueEntry[];
}

/**
 * Decodes the queues of etcd's layout among `kvs` (any keys: those that are not its entries,
 * see {@link isEtcdEntry}, are ignored, since they are other applications' as often as not),
 * names sorted, each in queue order. Pure.
 */
export function describe(kvs: readonly KeyValue[]): { readonly queues: readonly EtcdQueueDescription[] } {
  const groups = new Map<string, KeyValue[]>();
  for (const kv of kvs) {
    if (!isEtcdEntry(kv)) continue;
    const name = kv.key.slice(0, kv.key.lastIndexOf('/'));
    let list = groups.get(name);
    if (list === undefined) groups.set(name, (list = []));
    list.push(kv);
  }
  const names = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    queues: names.map((name) => {
      const list = groups.get(name)!.sort((a, b) => a.createRevision - b.createRevision);
      const entries = list.map((kv) => toEntry(kv, decodeText(kv.value)));
      return { name, kind: entries.every((e) => e.owner === '') ? 'mutex' : 'election', entries };
    }),
  };
}
