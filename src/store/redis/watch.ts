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
import { abortedError, isTenureError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import { closedError, compactedError } from '../errors.js';
import type { WatchBatch, WatchEvent } from '../types.js';
import { decodeEntry, entryRevision } from './codec.js';

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
  readonly #subs = new Set<() => void>();
  #running = false;
  #closed = false;
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

  /** Calls `wake` whenever new entries may be readable; returns the unsubscribe function. */
  subscribe(wake: () => void): () => void {
    this.#subs.add(wake);
    this.#ensureRunning();
    return () => this.#subs.delete(wake);
  }

  #ensureRunning(): void {
    if (this.#running || this.#closed || this.#subs.size === 0) return;
    this.#running = true;
    void this.#run();
  }

  #wakeAll(): void {
    for (const wake of [...this.#subs]) wake();
  }

  async #run(): Promise<void> {
    const source = this.#source();
    let last: number | undefined;
    try {
      while (!this.#closed && this.#subs.size > 0) {
        try {
          if (last === undefined) {
            last = await source.revision();
            // Entries committed between a watch's first read and this point were not seen by
            // this tail: let every watch read once more.
            this.#wakeAll();
            continue;
          }
          const reply = (await this.#conn.xreadBuffer(
            'BLOCK',
            1000,
            'STREAMS',
            this.#logKey,
            `${last}-0`,
          )) as [Buffer, [Buffer, Buffer[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length > 0) {
            last = entryRevision(entries[entries.length - 1]![0]);
            this.#wakeAll();
          }
        } catch {
          if (this.#closed) return;
          // The watches see the failure themselves when they read; this only waits to retry.
          await sleep(50, { clock: source.clock, signal: this.#stop.signal });
        }
      }
    } finally {
      this.#running = false;
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
  let dirty = true;
  let wake: (() => void) | undefined;
  const notify = () => {
    dirty = true;
    wake?.();
  };
  const unsubscribe = source.tail.subscribe(notify);
  signal?.addEventListener('abort', notify);
  let failingSince: number | undefined;
  try {
    let cursor = await start;
    for (;;) {
      if (signal?.aborted) throw abortedError(signal, 'the watch');
      if (source.isClosed()) throw closedError();
      if (!dirty) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      dirty = false;
      let read: Awaited<ReturnType<LogSource['readLog']>>;
      try {
        read = await source.readLog(cursor, LOG_READ_COUNT);
        failingSince = undefined;
      } catch (err) {
        if (source.isClosed()) throw closedError();
        if (!isTenureError(err, 'TENURE_UNAVAILABLE')) throw err;
        failingSince ??= source.clock.now();
        if (source.clock.now() - failingSince >= source.requestTimeoutMs) throw err;
        dirty = true;
        await sleep(100, { clock: source.clock, signal });
        continue;
      }
      if (read.compacted !== undefined) throw compactedError(cursor + 1, read.compacted);
      const events: WatchEvent[] = [];
      let last = cursor;
      for (const entry of read.entries) {
        for (const e of decodeEntry(entry, match)) events.push(e);
        last = entryRevision((entry as [Buffer])[0]);
      }
      const full = read.entries.length >= LOG_READ_COUNT;
      if (full) dirty = true;
      // The read and the revision come from one script call: nothing lies between them.
      cursor = full ? last : Math.max(last, read.revision);
      if (events.length > 0) yield { events, revision: cursor };
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', notify);
  }
}
