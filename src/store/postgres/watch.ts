/**
 * Watches on PostgreSQL: LISTEN/NOTIFY only wakes a watch; its events are read from the
 * `changelog` table by revision, after the last revision it delivered, so every event arrives
 * exactly once and in order, also across a lost connection (a reconnect wakes every watch, which
 * reads on from its cursor) and whatever NOTIFY drops or merges.
 *
 * One listening connection per store. A notification carries the revision and the keys written
 * (hex); it wakes only the watches of those keys and the prefix watches above them, so 100 lock
 * waiters each watching the key ahead cost one wake-up per release, not 100. A notification too
 * long to carry its keys wakes every watch.
 */
import pg from 'pg';
import type { Clock, Timer } from '../../clock.js';
import { abortedError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import { closedError } from '../errors.js';
import { UnavailableRetries } from '../retry.js';
import type { WatchBatch, WatchEvent } from '../types.js';
import { Watchers } from '../watchers.js';

/** Options of a {@link Listener}. */
export interface ListenerOptions {
  readonly config: pg.ClientConfig;
  readonly channel: string;
  readonly clock: Clock;
  readonly probeIntervalMs: number;
  readonly requestTimeoutMs: number;
  /** A query of the store's current revision (column `r`). */
  readonly revisionSql: string;
}

/** The store's listening connection, and the watches waiting on it, indexed by key. */
export class Listener {
  readonly #o: ListenerOptions;
  readonly #watchers = new Watchers();
  #client: pg.Client | undefined;
  #starting = false;
  #closed = false;
  #probe: Timer | undefined;
  #pauseMs = 50;
  /** Ends a pause between connection attempts at once on close. */
  readonly #stop = new AbortController();
  /**
   * While listening: every revision up to this one has been dispatched (notifications arrive in
   * commit order), so a watch whose cursor is at or past it has nothing to read until woken.
   * Undefined while not listening, and until known after a (re)connect.
   */
  #upTo: number | undefined;

  constructor(options: ListenerOptions) {
    this.#o = options;
  }

  /** Whether the connection is listening now. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /**
   * Registers a watch; it is woken when its key (or a key under it) may have changed. `wake`
   * gets the revision that changed it when the notification says (the watch need not read when
   * it has already read past it), undefined when anything may have changed (a reconnect, a
   * notification too long to carry its keys, the close).
   */
  subscribe(key: string, prefix: boolean, wake: (revision?: number) => void): () => void {
    const remove = this.#watchers.add(key, prefix, wake);
    if (this.#client === undefined && !this.#starting) void this.#start();
    return remove;
  }

  async #start(): Promise<void> {
    this.#starting = true;
    try {
      while (!this.#closed) {
        const client = new pg.Client({ ...this.#o.config, query_timeout: this.#o.requestTimeoutMs });
        client.on('error', () => this.#lost(client));
        client.on('end', () => this.#lost(client));
        client.on('notification', (n) => {
          if (n.channel === this.#o.channel) this.#dispatch(n.payload ?? '');
        });
        try {
          await client.connect();
          await client.query(`LISTEN "${this.#o.channel.replace(/"/g, '""')}"`);
          if (this.#closed) {
            await client.end().catch(() => undefined);
            return;
          }
          // Notifications are sent only between the listener's queries, so one that arrives before
          // this answer is for a revision at or below it; later ones raise #upTo as they come.
          const current = await client.query<{ r: string }>(this.#o.revisionSql);
          if (this.#closed) {
            // Closed while this connection was being set up: it is no one's to end but ours.
            await client.end().catch(() => undefined);
            return;
          }
          this.#upTo = Number(current.rows[0]!.r);
          this.#client = client;
          this.#pauseMs = 50;
          this.#scheduleProbe();
          // Changes committed before LISTEN took effect woke nobody: every watch reads again.
          this.#watchers.wakeAll();
          return;
        } catch {
          client.removeAllListeners('end');
          await client.end().catch(() => undefined);
          // Watches see the outage on their own reads; try again after a pause.
          await sleep(this.#pauseMs, { clock: this.#o.clock, signal: this.#stop.signal });
          this.#pauseMs = Math.min(this.#pauseMs * 2, 1000);
        }
      }
    } finally {
      this.#starting = false;
    }
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#upTo = undefined;
    if (this.#probe !== undefined) this.#o.clock.clearTimeout(this.#probe);
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    this.#watchers.wakeAll();
    if (!this.#closed && this.#watchers.size > 0 && !this.#starting) void this.#start();
  }

  /** Sends a query on the listening connection every probe interval while watches are open. */
  #scheduleProbe(): void {
    if (this.#probe !== undefined) this.#o.clock.clearTimeout(this.#probe);
    const client = this.#client;
    if (client === undefined || this.#closed) return;
    this.#probe = this.#o.clock.setTimeout(() => {
      if (this.#watchers.size === 0) return this.#scheduleProbe();
      client.query('SELECT 1').then(
        () => this.#scheduleProbe(),
        () => this.#lost(client), // no answer within requestTimeoutMs: a cut connection
      );
    }, this.#o.probeIntervalMs);
    this.#probe.unref();
  }

  /** Whether a watch whose cursor is `cursor` can wait for a wake-up without reading first. */
  quietAfter(cursor: number): boolean {
    return this.#client !== undefined && this.#upTo !== undefined && cursor >= this.#upTo;
  }

  #dispatch(payload: string): void {
    const parts = payload.split(' ');
    const revision = Number(parts[0]);
    if (this.#upTo !== undefined && Number.isSafeInteger(revision) && revision > this.#upTo)
      this.#upTo = revision;
    if (parts.length < 2) return this.#watchers.wakeAll();
    const keys = parts.slice(1).map((h) => Buffer.from(h, 'hex').toString('utf8'));
    this.#watchers.wake(keys, Number.isSafeInteger(revision) ? revision : undefined);
  }

  /** Ends the connection and wakes every watch (they see the store closed). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    if (this.#probe !== undefined) this.#o.clock.clearTimeout(this.#probe);
    const client = this.#client;
    this.#client = undefined;
    this.#watchers.wakeAll();
    if (client !== undefined) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}

/** What a watch needs from its store. */
export interface WatchSource {
  readonly listener: Listener;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  isClosed(): boolean;
  /** Reads the store's current revision (a watch's start, when its first read failed). */
  revision(): Promise<number>;
  /**
   * Settles once the store has finished closing (its connections ended). A watch ends with
   * TENURE_CLOSED only then, so a caller that awaits `close()` and then reads its watches' last
   * results holds no rejected promise meanwhile.
   */
  closeDone(): Promise<void>;
  readChanges(
    after: number,
    key: string,
    prefix: boolean,
  ): Promise<{ events: WatchEvent[]; upTo: number; more: boolean }>;
}

/**
 * A watch: reads the change log after its cursor whenever it is woken, and yields whole
 * revisions. A read that fails with TENURE_UNAVAILABLE is retried (the listener reconnects
 * meanwhile) until it has failed for `requestTimeoutMs`; then the watch fails with it. The read
 * of its start revision (a watch without `fromRevision`) is retried the same way, and the watch
 * then starts after the revision that read returns.
 *
 * A wake-up for a revision the watch has already read past (its own write, whose notification
 * comes after the write's reply) costs no read: a lock holder's watch of its own key reads
 * nothing until someone else changes that key.
 *
 * Once the store is closed, whatever the watch was doing (waiting for its start, reading, pausing
 * between failed reads, waiting for a wake-up), it ends with TENURE_CLOSED, once, after the
 * store's close has finished; it yields nothing read after the close.
 */
export async function* watchChanges(
  source: WatchSource,
  key: string,
  prefix: boolean,
  start: Promise<number>,
  signal: AbortSignal | undefined,
): AsyncGenerator<WatchBatch, void, undefined> {
  let dirty = true;
  /** Until the cursor is known: the highest revision woken for (Infinity: an unknown one). */
  let wokenFor = 0;
  let cursor: number | undefined;
  let wake: (() => void) | undefined;
  /** The pause between failed reads, if one is under way. */
  let pause: AbortController | undefined;
  const notify = (revision?: number) => {
    if (cursor === undefined) wokenFor = Math.max(wokenFor, revision ?? Infinity);
    else if (revision !== undefined && revision <= cursor) return; // already read past it
    dirty = true;
    wake?.();
    pause?.abort();
  };
  const unsubscribe = source.listener.subscribe(key, prefix, notify);
  const onAbort = () => notify();
  signal?.addEventListener('abort', onAbort);
  const retries = new UnavailableRetries(source);
  /** After a failed call: rethrows, or pauses before the next try (any wake-up ends the pause). */
  const pauseAfter = async (err: unknown): Promise<void> => {
    pause = new AbortController();
    try {
      await retries.pauseAfter(err, pause.signal);
    } finally {
      pause = undefined;
    }
  };
  try {
    for (let read = start; cursor === undefined;) {
      try {
        cursor = await read;
      } catch (err) {
        await pauseAfter(err);
        if (signal?.aborted) throw abortedError(signal, 'the watch');
        if (source.isClosed()) throw closedError();
        read = source.revision();
      }
    }
    retries.succeeded();
    // Nothing dispatched past the cursor, and no wake-up past it since subscribing: the first
    // read would find nothing (a lock's watch of its own key, just written, saves a round trip).
    if (wokenFor <= cursor && source.listener.quietAfter(cursor)) dirty = false;
    for (;;) {
      if (signal?.aborted) throw abortedError(signal, 'the watch');
      if (source.isClosed()) throw closedError();
      if (dirty) {
        dirty = false;
        let read: Awaited<ReturnType<WatchSource['readChanges']>>;
        try {
          read = await source.readChanges(cursor, key, prefix);
          retries.succeeded();
        } catch (err) {
          await pauseAfter(err);
          dirty = true;
          continue;
        }
        if (source.isClosed()) throw closedError();
        cursor = Math.max(cursor, read.upTo);
        dirty = dirty || read.more;
        if (read.events.length > 0) yield { events: read.events, revision: read.upTo };
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } catch (err) {
    if (!source.isClosed()) throw err;
    // Closed (whichever call noticed it first): end with TENURE_CLOSED once closing is over.
    await source.closeDone();
    throw closedError();
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}
