/**
 * The store layout of Mutex: its queue (see queue-layout), its value (the owner, as text), its
 * lock-delay marker, and its holder rule: the entry with the lowest create revision holds, its
 * create revision the fencing token; the rest wait in create-revision order.
 *
 * ```
 * mutex/<name>/<unique>   a waiter or the holder; value = its owner (host:pid by default)
 * mutex-holder/<name>     with lock-delay only: the holder's fencing token, without a lease, so a
 *                         marker left by a dead session shows that the last holder did not unlock
 * ```
 * @internal
 */
import type { KeyValue } from '../../store/types.js';
import { PREFIX } from '../names.js';
import { groupQueues, queuePrefix, toEntry, type QueueEntry } from './queue-layout.js';
import { UndecodedKeys, type UndecodedReport } from '../undecoded-keys.js';

/** `mutex/`: every entry of every mutex. */
export const MUTEX_PREFIX: string = PREFIX.mutex;

/** `mutex/<name>/`: the queue of one mutex. */
export function mutexPrefix(name: string): string {
  return queuePrefix('mutex', name);
}

/** `mutex-holder/<name>`: the lock-delay marker of one mutex. */
export function markerKey(name: string): string {
  return `${PREFIX.mutexHolder}${name}`;
}

/** The value of a lock-delay marker: the holder's fencing token. */
export function encodeMarker(token: number): string {
  return String(token);
}

/** One mutex, decoded. */
export interface MutexDescription {
  readonly name: string;
  /** The entry with the lowest create revision (`token` is its fencing token); undefined when free. */
  readonly holder: QueueEntry | undefined;
  /** The entries behind it, in queue order. */
  readonly waiters: readonly QueueEntry[];
}

/** The holder rule applied to one mutex's entries (any order). */
export function describeMutex(name: string, kvs: readonly KeyValue[]): MutexDescription {
  const q = [...kvs].sort((a, b) => a.createRevision - b.createRevision).map((kv) => toEntry(kv));
  return { name, holder: q[0], waiters: q.slice(1) };
}

/** Every mutex in a range of {@link MUTEX_PREFIX}. */
export interface MutexesDescription extends UndecodedReport {
  readonly mutexes: readonly MutexDescription[];
}

/** Decodes a range of `mutex/`: each mutex's holder and waiters, names sorted. Pure. */
export function describe(kvs: readonly KeyValue[], undecoded = new UndecodedKeys()): MutexesDescription {
  const { queues } = groupQueues('mutex', kvs, undecoded);
  return {
    mutexes: [...queues].map(([name, list]) => describeMutex(name, list)),
    undecoded: undecoded.undecoded,
    undecodedCount: undecoded.undecodedCount,
  };
}
