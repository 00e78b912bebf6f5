/**
 * Watches for backends that keep their own ordered change log (memory, SQLite): each watch keeps a
 * cursor (the last revision it delivered) and reads the log after it when the backend says that
 * something changed. A slow consumer therefore costs no memory: it reads later, or gets
 * TENURE_COMPACTED if it fell behind the log's retention.
 */
import { abortedError } from '../errors.js';
import { StoreBase } from './base.js';
import { closedError } from './errors.js';
import type { WatchBatch, WatchEvent, WatchListener } from './types.js';
import { Watchers } from './watchers.js';

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
  /**
   * Calls `wake` whenever new revisions for `key` (or, with `prefix`, the keys under it) may be
   * readable, and only then; returns the unsubscribe function. `wake(quietUpTo)` promises that
   * the log has nothing for this watch up to `quietUpTo` that it was not already woken for, so a
   * watch that was waiting may resume reading from there (undefined: no such promise).
   */
  subscribe(key: string, prefix: boolean, wake: (quietUpTo?: number) => void): () => void;
  /**
   * Asked right after `subscribe`: every change after the revision returned will wake that
   * subscriber (if it concerns its key), so a watch whose cursor is at or past it has nothing to
   * read until woken. Undefined: no such promise, read first.
   */
  dispatchedUpTo?(): number | undefined;
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
  const start = lastBefore(log, fromRevision);
  return {
    [Symbol.asyncIterator]: () => iterate(() => new LogCursor(log, key, prefix, start), signal, isClosed),
  };
}

/** The last revision a watch from `fromRevision` (or from now) does not deliver. */
function lastBefore(log: ChangeLog, fromRevision: number | undefined): number {
  return fromRevision === undefined ? log.currentRevision() : fromRevision - 1;
}

/**
 * {@link Store.follow} over a {@link ChangeLog}: the batches {@link watchChangeLog} would yield,
 * read when the log says there may be some and handed to the listener in a microtask, with no
 * iterator, promise or signal per watch.
 */
export function followChangeLog(
  log: ChangeLog,
  key: string,
  prefix: boolean,
  fromRevision: number | undefined,
  listener: WatchListener,
  isClosed: () => boolean,
): () => void {
  const cursor = new LogCursor(log, key, prefix, lastBefore(log, fromRevision));
  let ended = false;
  let scheduled = false;
  const end = () => {
    ended = true;
    cursor.close();
  };
  const run = () => {
    scheduled = false;
    while (!ended) {
      let batch: WatchBatch | undefined | null;
      try {
        if (isClosed()) throw closedError();
        batch = cursor.read();
      } catch (err) {
        end();
        return listener.error(err);
      }
      if (batch === null) return;
      if (batch !== undefined) listener.batch(batch);
    }
  };
  cursor.onWake = () => {
    if (scheduled || ended) return;
    scheduled = true;
    queueMicrotask(run);
  };
  if (cursor.dirty) cursor.onWake();
  return end;
}

/**
 * One watch's place in a {@link ChangeLog}: the last revision it delivered, and whether the log
 * may hold more for it. A slow consumer therefore costs no memory: it reads later.
 */
class LogCursor {
  /** Called when the log may hold something new for this watch (it is then {@link dirty}). */
  onWake: (() => void) | undefined;
  readonly #log: ChangeLog;
  readonly #key: string;
  readonly #prefix: boolean;
  readonly #unsubscribe: () => void;
  #cursor: number;
  #dirty = true;

  constructor(log: ChangeLog, key: string, prefix: boolean, start: number) {
    this.#log = log;
    this.#key = key;
    this.#prefix = prefix;
    this.#cursor = start;
    let woken = false;
    this.#unsubscribe = log.subscribe(key, prefix, (quietUpTo) => {
      // A waiting watch skips what the log promises holds nothing for it: its next read is short,
      // and it does not fall behind compaction while its key stays quiet.
      if (!this.#dirty && quietUpTo !== undefined && quietUpTo > this.#cursor) this.#cursor = quietUpTo;
      this.#dirty = true;
      woken = true;
      this.onWake?.();
    });
    // Nothing was dispatched past the cursor and every later change wakes this watch: its first
    // read would find nothing (a lock's watch of its own key, just written, saves a read).
    const dispatched = log.dispatchedUpTo?.();
    if (!woken && dispatched !== undefined && dispatched <= start) this.#dirty = false;
  }

  /** Whether the log may hold something for this watch that it has not read. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /**
   * Reads the log once after the cursor: the batch of this watch's events (undefined when the read
   * found none for it); null when there is nothing to read until the next wake.
   * @throws TENURE_COMPACTED when the log no longer holds the revisions after the cursor.
   */
  read(): WatchBatch | undefined | null {
    if (!this.#dirty) return null;
    this.#dirty = false;
    const { events, upTo, more } = this.#log.readChanges(this.#cursor, this.#key, this.#prefix);
    this.#cursor = Math.max(this.#cursor, upTo);
    this.#dirty = more;
    return events.length > 0 ? { events, revision: upTo } : undefined;
  }

  close(): void {
    this.onWake = undefined;
    this.#unsubscribe();
  }
}

/** The watch's iterator; it subscribes when iteration begins, and unsubscribes when it ends. */
async function* iterate(
  open: () => LogCursor,
  signal: AbortSignal | undefined,
  isClosed: () => boolean,
): AsyncGenerator<WatchBatch, void, undefined> {
  const cursor = open();
  let wake: (() => void) | undefined;
  const onWake = () => wake?.();
  cursor.onWake = onWake;
  signal?.addEventListener('abort', onWake);
  try {
    for (;;) {
      if (signal?.aborted) throw abortedError(signal, 'the watch');
      if (isClosed()) throw closedError();
      const batch = cursor.read();
      if (batch === null) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      } else if (batch !== undefined) yield batch;
    }
  } finally {
    cursor.close();
    signal?.removeEventListener('abort', onWake);
  }
}

const YIELD_EVERY_MS = 5;

/**
 * A backend whose watches read its own change log: it supplies the log, this class supplies
 * the watches and wakes only the ones a change concerns (wake them with
 * {@link ChangeLogStore.notify}).
 *
 * Watches are indexed by key, and the log is read once per notification for all of them: a
 * change wakes the watches of its key and the prefix watches above it, not every watch. So
 * 10,000 lock waiters, each watching the key ahead of it, cost O(1) per change instead of
 * 10,000 wake-ups and reads (issue 10).
 */
export abstract class ChangeLogStore extends StoreBase implements ChangeLog {
  readonly #watchers = new Watchers();
  /** The revision up to which changes were dispatched to the subscribers; undefined with none. */
  #dispatched: number | undefined;
  // eslint-disable-next-line no-restricted-properties -- CPU time this process spent, not time on any clock (see below)
  #lastYield = performance.now();

  /**
   * These backends answer synchronously, so a loop of awaited calls would never let timers run
   * (a session's heartbeats among them). Every few milliseconds of such a loop, yield once to the
   * event loop.
   *
   * This is the one place below the CLI that reads the process's own clock and schedules on the
   * event loop directly, and it must: what it measures is how long this process has kept the
   * event loop busy, and what it does is let queued callbacks run, which no clock can do for it.
   * Under a ManualClock, whose time moves only when advanced, a clock-measured yield would never
   * come, and `advance()` (which waits for the event loop to turn) would wait for ever behind such
   * a loop. It waits for no time and changes no timer.
   */
  protected async yieldToEventLoop(): Promise<void> {
    // eslint-disable-next-line no-restricted-properties -- as above: event-loop busy time
    const now = performance.now();
    if (now - this.#lastYield < YIELD_EVERY_MS) return;
    this.#lastYield = now;
    // eslint-disable-next-line no-restricted-globals -- a turn of the event loop, not a timer
    await new Promise<void>((resolve) => setImmediate(resolve));
    // eslint-disable-next-line no-restricted-properties -- as above: event-loop busy time
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
    return this.#watchers.size;
  }

  /** Called when the first watch starts waiting. */
  protected onFirstWatcher(): void {}

  /**
   * The current revision when the backend knows it without reading its log (SQLite: its own last
   * commit, when no other process has committed since); undefined to read it.
   */
  protected knownRevision(): number | undefined {
    return undefined;
  }

  subscribe(key: string, prefix: boolean, wake: (quietUpTo?: number) => void): () => void {
    if (this.#dispatched === undefined)
      this.#dispatched = this.knownRevision() ?? this.#currentRevisionOr(undefined);
    const remove = this.#watchers.add(key, prefix, wake);
    if (this.#watchers.size === 1) this.onFirstWatcher();
    return remove;
  }

  /** Every change after this revision is dispatched to the subscribers (see ChangeLog). */
  dispatchedUpTo(): number | undefined {
    return this.#dispatched;
  }

  /**
   * New revisions may be readable (or the store closed): wakes the watches they concern.
   * `changed`, when the backend has it at hand (memory, and SQLite for its own commits), lists
   * the keys of every event after `changed.after` up to `changed.revision`; it is used when the
   * last notification dispatched up to exactly `changed.after`. Otherwise (SQLite: another process
   * wrote, or wrote before this commit and was not dispatched yet) the log is read once here, from
   * the last dispatched revision.
   */
  protected notify(changed?: { after: number; revision: number; keys: readonly string[] }): void {
    const from = this.#dispatched;
    if (this.closed) return this.#watchers.wakeAll();
    if (this.#watchers.size === 0) {
      // Nobody to wake. Keep the position only when this notification covers everything after
      // it (a commit of this process): the next watch then needs no look at the log to start.
      this.#dispatched = changed !== undefined && changed.after === from ? changed.revision : undefined;
      return;
    }
    if (from === undefined) {
      this.#dispatched = this.#currentRevisionOr(undefined);
      return this.#watchers.wakeAll();
    }
    let upTo: number;
    let keys: readonly string[];
    if (changed !== undefined && changed.after === from) {
      keys = changed.keys;
      upTo = changed.revision;
    } else {
      const all: string[] = [];
      try {
        for (let after = from, more = true; more;) {
          const read = this.readChanges(after, '', true);
          for (const e of read.events) all.push(e.kv.key);
          more = read.more && read.upTo > after;
          after = read.upTo;
          upTo = after;
        }
      } catch {
        // Fell behind the log's retention (or could not read it): every watch reads for itself.
        this.#dispatched = this.#currentRevisionOr(undefined);
        return this.#watchers.wakeAll();
      }
      keys = all;
      upTo ??= from;
    }
    this.#dispatched = Math.max(from, upTo);
    if (keys.length === 0) return;
    this.#watchers.wake(keys, from);
  }

  #currentRevisionOr(fallback: number | undefined): number | undefined {
    try {
      return this.currentRevision();
    } catch {
      return fallback;
    }
  }

  protected doWatch(
    key: string,
    prefix: boolean,
    fromRevision: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncIterable<WatchBatch> {
    return watchChangeLog(this, key, prefix, fromRevision, signal, () => this.closed);
  }

  protected override doFollow(
    key: string,
    prefix: boolean,
    fromRevision: number | undefined,
    listener: WatchListener,
  ): () => void {
    return followChangeLog(this, key, prefix, fromRevision, listener, () => this.closed);
  }
}
