/**
 * Watches over etcd's Watch stream, resumable across member failures.
 *
 * Each watch has its own stream and remembers the next revision it owes the consumer. When the
 * stream breaks (the member died, lost its leader, or stopped answering progress probes) the
 * watch reopens on another member from that revision, so nothing is lost and, since only events
 * at or after it are delivered, nothing is duplicated. A revision etcd has compacted fails the
 * watch with TENURE_COMPACTED.
 *
 * etcd accepts a watch from its compaction revision itself, where the contract says that
 * revision is gone. So each stream is created at the revision R the watch needs next (which keeps
 * a watch from "now" on etcd's fast path for synced watchers) while a range read at R − 1 (which
 * etcd refuses exactly when R ≤ the compaction revision) runs beside it; events are held until
 * that check passes. If it fails, the stream is reopened at R − 1, and etcd cancels it with the
 * compaction revision, which the watch reports as TENURE_COMPACTED.

 * Slow consumers: up to {@link MAX_QUEUED} responses are buffered; beyond that the stream is
 * paused and HTTP/2 flow control holds etcd back, which keeps the events on the server (etcd
 * retries slow watchers from its history). Nothing is skipped.
 *
 * Progress answers are used only as a sign of life, never to advance the watch: etcd 3.4 can
 * send a progress answer ahead of events still queued for the watcher.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Clock, Timer } from '../../clock.js';
import { abortedError, TenureError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import { closedError, compactedError } from '../errors.js';
import type { WatchBatch, WatchEvent } from '../types.js';
import { etcdDetails, type EtcdConnection, type EtcdMember } from './connection.js';
import { exact, keyBytes, prefixRange, toEvent } from './convert.js';
import type { WireWatchResponse } from './proto.js';

const MAX_QUEUED = 64;

type Item =
  | { kind: 'created' }
  | { kind: 'events'; events: WatchEvent[]; revision: number }
  | { kind: 'compacted'; compactRevision: number }
  | { kind: 'broken'; why: string }
  | { kind: 'checked'; compacted: boolean };

type WatchCall = grpc.ClientDuplexStream<Record<string, unknown>, WireWatchResponse>;

/** One watch stream on one member, as a pull queue of items. */
class WatchStream {
  readonly member: EtcdMember;
  readonly #call: WatchCall;
  readonly #queue: Item[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #paused = false;
  readonly #clock: Clock;
  #lastHeard: number;
  #probeSentAt: number | undefined;
  #timer: Timer | undefined;

  constructor(
    call: WatchCall,
    member: EtcdMember,
    clock: Clock,
    probeIntervalMs: number,
    answerTimeoutMs: number,
  ) {
    this.#call = call;
    this.member = member;
    this.#clock = clock;
    this.#lastHeard = clock.now();
    call.on('data', (res: WireWatchResponse) => this.#onData(res));
    call.on('error', (err: unknown) => this.#end(etcdDetails(err) || String(err)));
    call.on('end', () => this.#end('the member ended the watch stream'));
    const everyMs = Math.max(25, Math.min(probeIntervalMs, answerTimeoutMs) / 4);
    const check = () => {
      this.#timer = undefined;
      if (this.#ended) return;
      // Probe only while the consumer waits: a paused stream is silent by design.
      if (this.#wake !== undefined) {
        const now = clock.now();
        if (this.#probeSentAt !== undefined && now - this.#probeSentAt > answerTimeoutMs)
          return this.#end(`no answer to a progress probe within ${answerTimeoutMs} ms`);
        if (this.#probeSentAt === undefined && now - this.#lastHeard >= probeIntervalMs) {
          this.#probeSentAt = now;
          this.#call.write({ progress_request: {} });
        }
      }
      this.#timer = clock.setTimeout(check, everyMs).unref();
    };
    this.#timer = clock.setTimeout(check, everyMs).unref();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  create(request: Record<string, unknown>): void {
    this.#call.write({ create_request: request });
  }

  #onData(res: WireWatchResponse): void {
    this.#lastHeard = this.#clock.now();
    this.#probeSentAt = undefined;
    try {
      if (res.canceled) {
        const compact = exact(res.compact_revision, 'compactRevision');
        if (compact > 0) this.#push({ kind: 'compacted', compactRevision: compact });
        else this.#end(`the member cancelled the watch${res.cancel_reason ? `: ${res.cancel_reason}` : ''}`);
        return;
      }
      if (res.created) this.#push({ kind: 'created' });
      if (res.events.length > 0)
        this.#push({
          kind: 'events',
          events: res.events.map(toEvent),
          revision: exact(res.header?.revision, 'revision'),
        });
    } catch (err) {
      this.#end(err instanceof Error ? err.message : String(err));
    }
  }

  /** Queues an item that did not come from etcd (the compaction check's verdict). */
  inject(item: Item): void {
    if (!this.#ended) this.#push(item);
  }

  #push(item: Item): void {
    this.#queue.push(item);
    if (this.#queue.length >= MAX_QUEUED && !this.#paused) {
      this.#paused = true;
      this.#call.pause();
    }
    this.#wake?.();
  }

  #end(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopTimer();
    this.#queue.push({ kind: 'broken', why: `${this.member.address}: ${why}` });
    this.#wake?.();
  }

  async next(): Promise<Item> {
    for (;;) {
      const item = this.#queue.shift();
      if (item !== undefined) {
        if (this.#paused && this.#queue.length < MAX_QUEUED / 4) {
          this.#paused = false;
          this.#call.resume();
        }
        return item;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  close(): void {
    this.#ended = true;
    this.#stopTimer();
    this.#call.cancel();
    this.#wake?.();
  }
}

/** What a watch needs from its store. */
export interface WatchContext {
  conn: EtcdConnection;
  /** The clock of every deadline, probe and pause of the watch. */
  clock: Clock;
  requestTimeoutMs: number;
  probeIntervalMs: number;
  /** Registers a function called when the store closes; returns its unregistration. */
  onClose(fn: () => void): () => void;
  isClosed(): boolean;
  /** Whether revision `revision` was compacted (a read at revision − 1 is refused). */
  compacted(revision: number): Promise<boolean>;
}

/**
 * A resumable watch of `key` (or of the prefix `key`) from revision `start` (a promise, so that
 * the store can fix "now" when watch() is called rather than when iteration starts).
 */
export function etcdWatch(
  ctx: WatchContext,
  key: string,
  prefix: boolean,
  start: Promise<number>,
  signal: AbortSignal | undefined,
): AsyncIterable<WatchBatch> {
  return { [Symbol.asyncIterator]: () => iterate(ctx, key, prefix, start, signal) };
}

async function* iterate(
  ctx: WatchContext,
  key: string,
  prefix: boolean,
  start: Promise<number>,
  signal: AbortSignal | undefined,
): AsyncGenerator<WatchBatch, void, undefined> {
  let stop!: (err: unknown) => void;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => undefined);
  let stream: WatchStream | undefined;
  const onAbort = () => {
    stop(abortedError(signal!, 'the watch'));
    stream?.close();
  };
  signal?.addEventListener('abort', onAbort);
  const unregister = ctx.onClose(() => {
    stop(closedError());
    stream?.close();
  });
  const check = () => {
    if (signal?.aborted) throw abortedError(signal, 'the watch');
    if (ctx.isClosed()) throw closedError();
  };
  try {
    check();
    let next = await Promise.race([start, stopped]);
    const range = prefix ? prefixRange(key) : { key: keyBytes(key) };
    /** When the current outage began (no established stream since), or undefined. */
    let outageSince: number | undefined;
    let lastWhy = '';
    /** Set when `next` was found compacted: reopen at next − 1 so etcd names the compaction revision. */
    let probing = false;
    for (;;) {
      check();
      const since = outageSince ?? ctx.clock.now();
      const deadline = since + ctx.requestTimeoutMs;
      if (outageSince !== undefined && ctx.clock.now() >= deadline)
        throw new TenureError(
          'TENURE_UNAVAILABLE',
          `the watch of ${JSON.stringify(key)} could not be resumed from revision ${next} within options.requestTimeoutMs (${ctx.requestTimeoutMs} ms): ${lastWhy}`,
          { details: { nextRevision: next } },
        );
      const opening = ctx.conn.stream<Record<string, unknown>, WireWatchResponse>('Watch.Watch', deadline);
      let opened: Awaited<typeof opening>;
      try {
        opened = await Promise.race([opening, stopped]);
      } catch (err) {
        // Stopped while the stream was being opened: when it opens, nobody will read it. Cancel it,
        // and take its errors (a member that resets the connection), which would otherwise be
        // thrown as uncaught exceptions.
        opening.then(
          ({ call }) => {
            call.on('error', () => undefined);
            call.cancel();
          },
          () => undefined,
        );
        throw err;
      }
      const current = new WatchStream(
        opened.call,
        opened.member,
        ctx.clock,
        ctx.probeIntervalMs,
        ctx.requestTimeoutMs,
      );
      stream = current;
      current.create({ ...range, start_revision: String(probing ? Math.max(1, next - 1) : next) });
      let checked = probing || next <= 1;
      if (!checked)
        ctx.compacted(next).then(
          (compacted) => current.inject({ kind: 'checked', compacted }),
          (err: unknown) =>
            current.inject({ kind: 'broken', why: `compaction check failed: ${String(err)}` }),
        );
      const held: WatchEvent[][] = [];
      let reopen = false;
      try {
        for (;;) {
          const item = await Promise.race([current.next(), stopped]);
          let batches: { events: WatchEvent[]; revision: number }[] = [];
          if (item.kind === 'created') {
            outageSince = undefined;
          } else if (item.kind === 'compacted') {
            throw compactedError(next, item.compactRevision);
          } else if (item.kind === 'broken') {
            lastWhy = item.why;
            outageSince ??= ctx.clock.now();
            if (/invalid auth token/.test(item.why)) ctx.conn.invalidateToken();
            ctx.conn.rotate(current.member);
            break;
          } else if (item.kind === 'checked') {
            if (item.compacted) {
              probing = true;
              reopen = true;
              break;
            }
            checked = true;
            batches = held.map((events) => ({ events, revision: 0 }));
            held.length = 0;
          } else if (!checked) {
            held.push(item.events);
          } else {
            batches = [item];
          }
          for (const batch of batches) {
            const events = batch.events.filter((e) => e.kv.modRevision >= next);
            if (events.length === 0) continue;
            const last = events[events.length - 1]!.kv.modRevision;
            next = last + 1;
            yield { events, revision: Math.max(batch.revision, last) };
          }
        }
      } finally {
        current.close();
        stream = undefined;
      }
      check();
      if (!reopen) await Promise.race([sleep(50, { clock: ctx.clock, signal }), stopped]);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    unregister();
  }
}
