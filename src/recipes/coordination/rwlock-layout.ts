/**
 * The store layout of RWLock: its queue (see queue-layout), its value `<read|write> <owner>`, and
 * its holder rule: a writer holds when nothing is ahead of it; readers hold when no writer is
 * ahead of them (so the readers ahead of the first writer hold together).
 *
 * ```
 * rwlock/<name>/<unique>   value = `read <owner>` or `write <owner>`
 * ```
 * @internal
 */
import type { KeyValue } from '../../store/types.js';
import { PREFIX } from '../names.js';
import {
  decodeTagged,
  decodeText,
  encodeTagged,
  decodeQueues,
  queuePrefix,
  toEntry,
  type QueueEntry,
} from './queue-layout.js';
import { UndecodedKeys, type UndecodedReport } from '../undecoded-keys.js';

/** `rwlock/`: every entry of every read-write lock. */
export const RWLOCK_PREFIX: string = PREFIX.rwlock;

/** A read-write lock entry's mode. */
export type RWMode = 'read' | 'write';

/** `rwlock/<name>/`: the queue of one read-write lock. */
export function rwlockPrefix(name: string): string {
  return queuePrefix('rwlock', name);
}

/** The value a waiter writes: its mode and owner. */
export function encodeRWValue(mode: RWMode, owner: string): string {
  return encodeTagged(mode, owner);
}

const W = 'w'.charCodeAt(0);

/**
 * Whether a raw entry is a writer, from its value's first byte: what a waiter's blocker checks on
 * every queue change, without decoding the value.
 */
export function isWriterValue(value: Uint8Array): boolean {
  return value[0] === W;
}

/** A read-write lock entry, decoded. */
export interface RWEntry extends QueueEntry {
  /** undefined when the value is neither `read …` nor `write …`. */
  readonly mode: RWMode | undefined;
}

/** A read-write lock entry's mode and owner. Pure. */
export function decodeRWEntry(kv: KeyValue): RWEntry {
  const [tag, owner] = decodeTagged(decodeText(kv.value));
  return { ...toEntry(kv, owner), mode: tag === 'read' || tag === 'write' ? tag : undefined };
}

/** How many of the queue's first entries hold: the first writer alone, or the readers ahead of it. */
export function heldCount(modes: readonly RWMode[]): number {
  const firstWriter = modes.indexOf('write');
  return firstWriter === 0 ? 1 : firstWriter < 0 ? modes.length : firstWriter;
}

/** One read-write lock, decoded. */
export interface RWLockDescription {
  readonly name: string;
  readonly holders: readonly (RWEntry & { mode: RWMode })[];
  readonly waiters: readonly (RWEntry & { mode: RWMode })[];
}

/** Every read-write lock in a range of {@link RWLOCK_PREFIX}. */
export interface RWLocksDescription extends UndecodedReport {
  readonly rwlocks: readonly RWLockDescription[];
}

/**
 * Decodes a range of `rwlock/`: each lock's holders and waiters. An entry of neither mode is
 * reported and left out; a lock with no readable entry is left out. Pure.
 */
export function describe(kvs: readonly KeyValue[], undecoded = new UndecodedKeys()): RWLocksDescription {
  const rwlocks: RWLockDescription[] = [];
  const queues = decodeQueues(
    'rwlock',
    kvs,
    undecoded,
    (kv) => {
      const e = decodeRWEntry(kv);
      return e.mode === undefined ? undefined : { ...e, mode: e.mode };
    },
    'a read-write lock entry that is neither read nor write',
  );
  for (const [name, q] of queues) {
    const held = heldCount(q.map((e) => e.mode));
    rwlocks.push({ name, holders: q.slice(0, held), waiters: q.slice(held) });
  }
  return { rwlocks, undecoded: undecoded.undecoded, undecodedCount: undecoded.undecodedCount };
}
