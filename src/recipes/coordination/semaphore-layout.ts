/**
 * The store layout of Semaphore: its queue (see queue-layout), its value `<permits> <owner>` (the
 * permit count the writing process uses, so that processes that count differently can be told
 * apart), and its holder rule: the first `permits` entries by create revision hold.
 *
 * ```
 * semaphore/<name>/<unique>   value = `<permits> <owner>`, e.g. `4 host-a:1234`
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

/** `semaphore/`: every entry of every semaphore. */
export const SEMAPHORE_PREFIX: string = PREFIX.semaphore;

/** `semaphore/<name>/`: the queue of one semaphore. */
export function semaphorePrefix(name: string): string {
  return queuePrefix('semaphore', name);
}

/** The value a process writes: its permit count and owner. */
export function encodeSemaphoreValue(permits: number, owner: string): string {
  return encodeTagged(permits, owner);
}

/** A semaphore entry, decoded: its owner and the permit count it declares. */
export interface SemaphoreEntry extends QueueEntry {
  /** The permit count its process uses; undefined when the value declares none it can read. */
  readonly permits: number | undefined;
}

/** A semaphore entry's declared permits and owner. Pure. */
export function decodeSemaphoreEntry(kv: KeyValue): SemaphoreEntry {
  const [tag, owner] = decodeTagged(decodeText(kv.value));
  // Checked as text: no number from a tag longer than a sane count.
  const permits = /^[1-9][0-9]{0,8}$/.test(tag) ? Number(tag) : undefined;
  return { ...toEntry(kv, owner), permits };
}

/** One semaphore, decoded. */
export interface SemaphoreDescription {
  readonly name: string;
  /** The first `permits` entries, in queue order (each `token` a fencing token). */
  readonly holders: readonly SemaphoreEntry[];
  readonly waiters: readonly SemaphoreEntry[];
  /**
   * The permit count: the smallest that any entry declares. Processes that disagree break the
   * bound; then `permitsDeclared` lists every count declared (sorted).
   */
  readonly permits: number;
  readonly permitsDeclared?: readonly number[];
}

/** Every semaphore in a range of {@link SEMAPHORE_PREFIX}. */
export interface SemaphoresDescription extends UndecodedReport {
  readonly semaphores: readonly SemaphoreDescription[];
}

/**
 * Decodes a range of `semaphore/`: each semaphore's holders (first N by its permit count) and
 * waiters, and any disagreement on N. An entry without a readable permit count is reported and
 * left out; a semaphore with no readable entry is left out. Pure.
 */
export function describe(kvs: readonly KeyValue[], undecoded = new UndecodedKeys()): SemaphoresDescription {
  const semaphores: SemaphoreDescription[] = [];
  const queues = decodeQueues(
    'semaphore',
    kvs,
    undecoded,
    (kv) => {
      const e = decodeSemaphoreEntry(kv);
      return e.permits === undefined ? undefined : { ...e, permits: e.permits };
    },
    'a semaphore entry without its permit count (<permits> <owner>)',
  );
  for (const [name, q] of queues) {
    const declared = [...new Set(q.map((e) => e.permits))].sort((a, b) => a - b);
    const permits = declared[0]!;
    semaphores.push({
      name,
      holders: q.slice(0, permits),
      waiters: q.slice(permits),
      permits,
      ...(declared.length > 1 ? { permitsDeclared: declared } : {}),
    });
  }
  return { semaphores, undecoded: undecoded.undecoded, undecodedCount: undecoded.undecodedCount };
}
