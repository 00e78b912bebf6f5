/**
 * Watches for backends that keep their own ordered change log (memory, SQLite): each watch keeps a
 * cursor (the last revision it delivered) and reads the log after it when the backend says that
 * something changed. A slow consumer therefore costs no memory: it reads later, or gets
 * TENURE_COMPACTED if it fell behind the log's retention.
 */
import { abortedError } from '../errors.js';
import { StoreBase } from './base.js';
import { closedError } from './errors.js';
import type { WatchBatch, WatchEvent } from './types.js';

/** A backend's ordered log of changes. */
export interface ChangeLog {
  /** The current revision. */
  currentRevision(): number;
  /**
   * Events with revision > `after` for the selected keys, whole revisions only, in order, and the
   * revision read up to (the same for a consumer that saw nothing matching); `more` when a
   * read limit left later revisions unread.
   * @throws TENURE_COMPACTED when revisions after `after` were discarded.
   */
  readChanges(
    after: number,
    key: string,
    prefix: boolean,
  ): { events: WatchEvent[]; upTo: number; more: boolean };
  /** Calls `listener` whenever new revisions may be readable; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/**
 * An async iterable of watch batches over a {@link ChangeLog}. The start revision is fixed when
 * this is called, not when iteration begins, so no change between the two is missed.
 */
export function watchChangeLog(
  log: ChangeLog,
  key: string,
  prefix: boolean,
  fromRevision: number | undefined,
  signal: AbortSignal | undefined,
  isClosed: () => boolean,
): AsyncIterable<WatchBatch> {
  const start = fromRevision === undefined ? log.currentRevision() : fromRevision - 1;
  return {
    [Symbol.asyncIterator]: () => iterate(log, key, prefix, start, signal, isClosed),
  };
}

async function* iterate(
  log: ChangeLog,
  key: string,
  prefix: boolean,
  start: number,
  signal: AbortSignal | undefined,
  isClosed: () => boolean,
): AsyncGenerator<WatchBatch, void, undefined> {
  let cursor = start;
  let dirty = true;
  let wake: (() => void) | undefined;
  const notify = () => {
    dirty = true;
    wake?.();
  };
  const unsubscribe = log.subscribe(notify);
  signal?.addEventListener('abort', notify);
  try {
    for (;;) {
      if (signal?.aborted) throw abortedError(signal, 'the watch');
      if (isClosed()) throw closedError();
      if (dirty) {
        dirty = false;
        const { events, upTo, more } = log.readChanges(cursor, key, prefix);
        cursor = Math.max(cursor, upTo);
        dirty = more;
        if (events.length > 0) yield { events, revision: upTo };
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', notify);
  }
}

const YIELD_EVERY_MS = 5;

/**
 * A backend whose watches read its own change log: it supplies the log, this class supplies
 * the watches and the listener set (wake them with {@link ChangeLogStore.notify}).
 */
export abstract class ChangeLogStore extends StoreBase implements ChangeLog {
  readonly #listeners = new Set<() => void>();
  #lastYield = performance.now();

  /**
   * These backends answer synchronously, so a loop of awaited calls would never let timers run
   * (a session's heartbeats among them). Every few milliseconds of such a loop, yield once to the
   * event loop.
   */
  protected async yieldToEventLoop(): Promise<void> {
    const now = performance.now();
    if (now - this.#lastYield < YIELD_EVERY_MS) return;
    this.#lastYield = now;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
  }

  abstract currentRevision(): number;
  abstract readChanges(
    after: number,
    key: string,
    prefix: boolean,
  ): { events: WatchEvent[]; upTo: number; more: boolean };

  /** How many watches are waiting on the log. */
  protected get watchers(): number {
    return this.#listeners.size;
  }

  /** Called when the first watch starts waiting. */
  protected onFirstWatcher(): void {}

  subscribe(listener: () => void): () => void {
    const wrapped = () => listener();
    this.#listeners.add(wrapped);
    if (this.#listeners.size === 1) this.onFirstWatcher();
    return () => this.#listeners.delete(wrapped);
  }

  /** Wakes every watch: new revisions may be readable (or the store closed). */
  protected notify(): void {
    for (const listener of this.#listeners) listener();
  }

  protected doWatch(
    key: string,
    prefix: boolean,
    fromRevision: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncIterable<WatchBatch> {
    return watchChangeLog(this, key, prefix, fromRevision, signal, () => this.closed);
  }
}
