/**
 * Watches on the Redis backend. The change log is a Redis Stream with one entry per revision.
 * One connection per store (the {@link ChangeTail}) blocks in `XREAD` from the last entry it saw
 * and wakes the store's watches when entries arrive; each watch then reads the log after its own
 * cursor (the last revision it delivered) through the store's script, which checks compaction in
 * the same step. So every change is delivered once, in order, whatever the connection did in
 * between: after a reconnect the tail resumes from its last entry id and the watches from their
 * cursors, and a watch behind the retained history fails with TENURE_COMPACTED.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../clock.js';
import { abortedError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import { closedError, compactedError } from '../errors.js';
import { UnavailableRetries } from '../retry.js';
import type { WatchBatch, WatchEvent } from '../types.js';
import { entryEvents, entryRevision, parseEntry, type LogEntry } from './codec.js';

/** Entries a watch reads per script call. */
export const LOG_READ_COUNT = 1000;

/** What a store gives its watches. */
export interface LogSource {
  /** Entries after `after` (at most `count`), the current revision, or the compaction point. */
  readLog(
    after: number,
    count: number,
  ): Promise<{ compacted: number | undefined; revision: number; entries: readonly unknown[] }>;
  /** The current revision (through the script, which also detects a restart). */
  revision(): Promise<number>;
  /**
   * The highest revision this store has seen in a reply of the server: the server's revision is
   * at least that (it never goes back, a restart moves it forward), so a tail may start there.
   */
  seenRevision(): number;
  readonly tail: ChangeTail;
  readonly clock: Clock;
  /** How long a watch keeps retrying an unreachable server before it fails. */
  readonly requestTimeoutMs: number;
  isClosed(): boolean;
}

/**
 * The blocking reader of a store's change log: one dedicated connection, running only while some
 * watch is subscribed.
 */
export class ChangeTail {
  readonly #conn: Redis;
  readonly #logKey: string;
  readonly #source: () => LogSource;
  readonly #subs = new Set<TailListener>();
  #running = false;
  #closed = false;
  /** The revision of the last entry this tail has handed out; undefined until it knows. */
  #last: number | undefined;
  /** Lets a pause between failed reads end at once on close. */
  #stop = new AbortController();

  /**
   * @param conn a connection of its own: a blocking XREAD holds it.
   * @param logKey the stream's key.
   */
  constructor(conn: Redis, logKey: string, source: () => LogSource) {
    this.#conn = conn;
    this.#logKey = logKey;
    this.#source = source;
  }

  /**
   * The revision up to which this tail has handed out entries, or undefined while it does not
   * know yet (it then wakes every listener once it does). A watch whose cursor is at or above it
   * will receive every later entry from the tail without reading the log itself.
   */
  get position(): number | undefined {
    return this.#last;
  }

  /**
   * Calls `listener` with new entries, or with none (read the log); returns the unsubscribe.
   * `from`, when given, is a revision the server is known to have reached: a tail that is not
   * running starts reading right after it, with no call to learn where the log ends, and a
   * listener whose cursor is at or above it is handed every later entry.
   */
  subscribe(listener: TailListener, from?: number): () => void {
    this.#subs.add(listener);
    this.#ensureRunning(from);
    return () => this.#subs.delete(listener);
  }

  #ensureRunning(from?: number): void {
    if (this.#running || this.#closed || this.#subs.size === 0) return;
    this.#running = true;
    this.#last = from;
    void this.#run();
  }

  #wakeAll(delivery?: TailDelivery): void {
    for (const listener of [...this.#subs]) listener(delivery);
  }

  async #run(): Promise<void> {
    const source = this.#source();
    try {
      while (!this.#closed && this.#subs.size > 0) {
        try {
          if (this.#last === undefined) {
            this.#last = await source.revision();
            // Entries committed between a watch's first read and this point were not seen by
            // this tail: let every watch read once more.
            this.#wakeAll();
            continue;
          }
          const reply = (await this.#conn.xreadBuffer(
            'COUNT',
            LOG_READ_COUNT,
            'BLOCK',
            1000,
            'STREAMS',
            this.#logKey,
            `${this.#last}-0`,
          )) as [Buffer, [Buffer, Buffer[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0) continue;
          const after = this.#last;
          // Parsed here once for every watch it is handed to; each watch then only picks its keys.
          let parsed: LogEntry[] | undefined;
          try {
            parsed = entries.map(parseEntry);
          } catch {
            // An entry that does not parse: the watches read the log, which reports it.
          }
          const revisions = parsed?.map((e) => e.revision) ?? entries.map((e) => entryRevision(e[0]));
          this.#last = revisions[revisions.length - 1]!;
          // One entry per revision, so a run that starts right after the last one and has no
          // epoch marker is complete: watches take it as it is. Anything else (a restart's
          // marker, a gap, an entry that does not parse) sends them to the log, which says what
          // was compacted.
          const complete =
            parsed !== undefined &&
            revisions[0] === after + 1 &&
            revisions.every((r, i) => i === 0 || r === revisions[i - 1]! + 1) &&
            parsed.every((e) => e.changes !== false);
          this.#wakeAll(complete ? { after, entries: parsed! } : undefined);
        } catch {
          if (this.#closed) return;
          // The watches see the failure themselves when they read; this only waits to retry.
          this.#last = undefined;
          await sleep(50, { clock: source.clock, signal: this.#stop.signal });
        }
      }
    } finally {
      this.#running = false;
      this.#last = undefined;
      // A watch that subscribed while this loop was ending needs a loop.
      this.#ensureRunning();
    }
  }

  /** Stops the loop and wakes every watch (they then see the store closed). */
  close(): void {
    this.#closed = true;
    this.#stop.abort();
    this.#wakeAll();
    this.#conn.disconnect();
  }
}

/** Entries the tail read: every revision after `after`, in order, parsed. */
export interface TailDelivery {
  readonly after: number;
  readonly entries: readonly LogEntry[];
}

/** A subscriber of the tail: given entries, or nothing (the log may have more: read it). */
export type TailListener = (delivery?: TailDelivery) => void;

/**
 * The revision a watch starts after: `start`, or, when the connection failed while `start` was
 * read (a watch without a starting revision reads the current one), the current revision read
 * again, retried like the log reads for up to `requestTimeoutMs`. The watch then starts at that
 * later read, which still lies between the watch() call and its first batch: a failed read gave
 * no revision (it may have run, its reply lost), and every change after the later read is delivered.
 */
async function startRevision(
  source: LogSource,
  start: Promise<number>,
  signal: AbortSignal | undefined,
): Promise<number> {
  const retries = new UnavailableRetries(source);
  let read = start;
  for (;;) {
    try {
      return await read;
    } catch (err) {
      await retries.pauseAfter(err, signal);
      if (signal?.aborted) throw abortedError(signal, 'the watch');
      read = source.revision();
    }
  }
}

/**
 * A watch of `key` (or the prefix) from the revision after `start` resolves (the last revision
 * not to deliver).
 */
export function redisWatch(
  source: LogSource,
  key: string,
  prefix: boolean,
  start: Promise<number>,
  signal: AbortSignal | undefined,
): AsyncIterable<WatchBatch> {
  return { [Symbol.asyncIterator]: () => iterate(source, key, prefix, start, signal) };
}

async function* iterate(
  source: LogSource,
  key: string,
  prefix: boolean,
  start: Promise<number>,
  signal: AbortSignal | undefined,
): AsyncGenerator<WatchBatch, void, undefined> {
  const match = prefix ? (k: string) => k.startsWith(key) : (k: string) => k === key;
  let cursor = -1;
  let started = false;
  let dirty = false;
  /** Entries the tail handed over (this watch's events of each), continuing from the cursor. */
  let pending: { events: WatchEvent[][]; revisions: number[] } = { events: [], revisions: [] };
  /**
   * Every revision after the cursor up to this one has no event for this watch: the tail handed
   * them over and none matched. The cursor moves there without waking the watch, so one release
   * among many waiters wakes only the waiter watching that key, not every watch of the store.
   */
  let quietTo = -1;
  let wake: (() => void) | undefined;
  const notify = (delivery?: TailDelivery) => {
    const reach = pending.revisions.at(-1) ?? Math.max(cursor, quietTo);
    if (started && !dirty && delivery !== undefined && delivery.after <= reach) {
      let woken = false;
      try {
        for (const entry of delivery.entries) {
          const r = entry.revision;
          if (r <= reach) continue;
          const events = entryEvents(entry, match);
          if (events.length === 0 && pending.revisions.length === 0) quietTo = r;
          else {
            pending.events.push(events);
            pending.revisions.push(r);
            woken = true;
          }
        }
      } catch {
        // An entry that does not decode: the log read reports it to the consumer.
        dirty = true;
        woken = true;
      }
      if (!woken) return;
    } else dirty = true;
    wake?.();
  };
  let unsubscribe: () => void = () => undefined;
  const onAbort = () => notify();
  signal?.addEventListener('abort', onAbort);
  const retries = new UnavailableRetries(source);
  try {
    cursor = await startRevision(source, start, signal);
    // Subscribed once the start is known, so that a tail that is not running starts right there
    // (capped at a revision the server has reached: a watch may start in the future, and a tail
    // past the end of the log would miss the entries before it that other watches need). That
    // saves the call to learn where the log ends and this watch's first read of the log.
    unsubscribe = source.tail.subscribe(notify, Math.min(cursor, source.seenRevision()));
    // A tail at or behind the start hands this watch every later entry; one ahead of it has
    // handed out some already, and an unknown position means it will wake everyone.
    const position = source.tail.position;
    dirty = dirty || (position !== undefined && position > cursor);
    started = true;
    for (;;) {
      if (signal?.aborted) throw abortedError(signal, 'the watch');
      if (source.isClosed()) throw closedError();
      if (quietTo > cursor) cursor = quietTo;
      if (pending.revisions.length > 0 && !dirty) {
        const { events: decoded, revisions } = pending;
        pending = { events: [], revisions: [] };
        // Entries handed over while the log was being read may overlap what that read returned:
        // keep those past the cursor, and take them only if they continue from it.
        const from = revisions.findIndex((r) => r > cursor);
        if (from < 0) continue;
        if (revisions[from] !== cursor + 1) {
          dirty = true;
          continue;
        }
        const events = decoded.slice(from).flat();
        cursor = revisions[revisions.length - 1]!;
        if (events.length > 0) yield { events, revision: cursor };
        continue;
      }
      if (!dirty) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      dirty = false;
      pending = { events: [], revisions: [] };
      let read: Awaited<ReturnType<LogSource['readLog']>>;
      try {
        read = await source.readLog(cursor, LOG_READ_COUNT);
        retries.succeeded();
      } catch (err) {
        dirty = true;
        await retries.pauseAfter(err, signal);
        continue;
      }
      if (read.compacted !== undefined) throw compactedError(cursor + 1, read.compacted);
      const events: WatchEvent[] = [];
      let last = cursor;
      for (const entry of read.entries) {
        const parsed = parseEntry(entry);
        for (const e of entryEvents(parsed, match)) events.push(e);
        last = parsed.revision;
      }
      const full = read.entries.length >= LOG_READ_COUNT;
      if (full) dirty = true;
      // The read and the revision come from one script call: nothing lies between them.
      cursor = full ? last : Math.max(last, read.revision);
      if (events.length > 0) yield { events, revision: cursor };
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}
