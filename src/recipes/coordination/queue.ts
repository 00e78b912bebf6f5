/**
 * The mechanism under every lock and election: a queue of keys under one prefix, ordered by
 * create revision, each attached to its session's lease (etcd's concurrency package works the
 * same way). A waiter watches only the one key it waits behind, so a release wakes one waiter,
 * not all of them. A held entry's create revision is its fencing token.
 */
import { systemClock, type Clock, type Timer } from '../../clock.js';
import { TenureError, invalidArgument, isTenureError } from '../../errors.js';
import type { GetOp, KeyValue, Store } from '../../store/types.js';
import { checkSignal } from '../../store/validate.js';
import { checkName } from '../names.js';
import { queuePrefix, type QueueKind } from './queue-layout.js';
import { LazyEnd } from './lazy-end.js';
import type { Session } from './session.js';
import { sleep } from '../../sleep.js';

/** Options of every call that waits. */
export interface WaitOptions {
  /** Aborts the wait; the call rejects with TENURE_ABORTED (cause: `signal.reason`) after removing its key. */
  signal?: AbortSignal;
  /** Gives up after this long; the call rejects with TENURE_TIMEOUT after removing its key. @default no limit */
  timeoutMs?: number;
}

/** Checks {@link WaitOptions}. */
export function checkWaitOptions(options: WaitOptions | undefined): WaitOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'must be an object');
  checkSignal(options.signal, 'options.signal');
  const t = options.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !(t >= 0) || !Number.isFinite(t)))
    throw invalidArgument(
      'options.timeoutMs',
      `must be a finite number of milliseconds ≥ 0, got ${String(t)}`,
    );
  return options;
}

/** A queue entry: a key, its create revision (position and fencing token) and value. */
export type Entry = KeyValue;

/** Sorts entries by create revision (queue order). */
export function byCreateRevision(a: Entry, b: Entry): number {
  return a.createRevision - b.createRevision;
}

/**
 * What a waiter decides from the entries nearest ahead of its own (nearest first):
 * - `hold`: it holds; `queue` is what it returns (its entries, in queue order);
 * - `read`: nothing to wait for in this stretch: read again, the entries created at or before
 *   `below` (a reader paging towards the nearest writer);
 * - `follow`: hold once fewer than `holdBelow` of `entries` are left, following the queue's
 *   ordered stream (no read after it unless `thenRead`): every entry that can block it is known;
 * - `watch`: wait for a change of `entry`'s key, then read again (from `below` if given).
 */
type Step =
  | { readonly kind: 'hold'; readonly queue: readonly Entry[] }
  | { readonly kind: 'read'; readonly below: number }
  | {
      readonly kind: 'follow';
      readonly entries: readonly Entry[];
      readonly holdBelow: number;
      readonly thenRead: boolean;
    }
  | { readonly kind: 'watch'; readonly entry: Entry; readonly below?: number };

/**
 * What a waiter waits behind. Each check reads its own key and the `limit` entries nearest ahead
 * of it (one transaction, O(limit) however long the queue), and `next` decides from them. Entries
 * are never created ahead of a ticket, only deleted, which is what lets every rule hold on a
 * stream event with no read after it.
 */
export interface WaitRule {
  /** How many entries nearest ahead one check reads (enqueue reads one more: its own). */
  readonly limit: number;
  /** Decides from `ahead` (nearest first, at most `limit`) and the ticket's own entry; may throw to refuse the queue. */
  next(ahead: readonly Entry[], own: Entry): Step;
}

/**
 * An exclusive turn (a mutex, a leadership, a write lock): it holds when nothing is ahead. With
 * two or more ahead it watches the key just ahead; with one, it is next in line and follows the
 * queue's stream until that entry goes, holding at that revision with no read (etcd's
 * waitDeletes). A release therefore wakes one waiter, which makes at most one read of O(log n)
 * cost: a waiter's store work and memory stay O(1) however long the queue (10,000 waiters on one
 * lock).
 */
export const exclusive: WaitRule = {
  limit: 2,
  next: (ahead, own) =>
    ahead.length === 0
      ? { kind: 'hold', queue: [own] }
      : ahead.length === 1
        ? { kind: 'follow', entries: ahead, holdBelow: 1, thenRead: false }
        : { kind: 'watch', entry: ahead[0]! },
};

/**
 * A counting turn (a semaphore's permit): it holds when fewer than `permits` entries are ahead,
 * and returns them with its own, in queue order. With exactly `permits` ahead it is the first
 * waiter and follows the queue's stream until one of them goes, then reads the entries ahead once
 * (O(permits)); with more, it waits behind the entry just ahead, which wakes it by touching its
 * key when it takes a permit (see Semaphore). `check` sees every read (nearest first) and may
 * throw to refuse the queue.
 */
export function counting(permits: number, check: (ahead: readonly Entry[]) => void): WaitRule {
  return {
    limit: permits + 1,
    next(ahead, own) {
      check(ahead);
      if (ahead.length < permits) return { kind: 'hold', queue: [...ahead].reverse().concat(own) };
      if (ahead.length === permits)
        return { kind: 'follow', entries: ahead, holdBelow: permits, thenRead: true };
      return { kind: 'watch', entry: ahead[0]! };
    },
  };
}

/**
 * A shared turn (a read lock): it holds when no entry ahead `blocks` (no writer), and returns
 * only its own entry. It reads the entries ahead nearest first, `pageSize` at a time, and never
 * the entries behind it: a stretch of the queue once read without a blocking entry stays so, so
 * each later read starts below the nearest blocking entry it waited for, and every entry ahead is
 * read at most once across the whole wait.
 *
 * What this cannot bound: an entry's kind is in its value, so finding the nearest blocking entry
 * means reading the non-blocking ones between (readers queued behind a writer read the readers
 * ahead of them, once). Without a blocking entry within its first page, and with every blocking
 * entry of a complete page known, it follows the queue's stream until they are gone and holds
 * with no read.
 */
export function shared(blocks: (e: Entry) => boolean, pageSize: number): WaitRule {
  return {
    limit: pageSize,
    next(page, own) {
      const blocking = page.filter(blocks);
      const complete = page.length < pageSize; // every entry ahead of the page's start was read
      if (blocking.length === 0)
        return complete
          ? { kind: 'hold', queue: [own] }
          : { kind: 'read', below: page[page.length - 1]!.createRevision - 1 };
      if (complete) return { kind: 'follow', entries: blocking, holdBelow: 1, thenRead: false };
      const nearest = blocking[0]!;
      return { kind: 'watch', entry: nearest, below: nearest.createRevision };
    },
  };
}

/** A key in the queue, owned by this process, and the queue as read when it was put. */
export interface Ticket {
  readonly key: string;
  readonly createRevision: number;
  /**
   * The queue in order, as read with the put: all of it, or with an {@link enqueue} window only
   * its newest entries (this one last, and the ones just ahead of it).
   */
  readonly queue: readonly Entry[];
}

/**
 * Puts a new queue entry for the session under `prefix` and reads the queue in the same
 * transaction, so that an uncontended lock costs one write to take it. With a `window`, it reads
 * only that many of the newest entries (its own first): enough for an exclusive turn, and O(1)
 * in the length of the queue.
 *
 * A write whose reply is lost (etcd's "deadline exceeded" during a leader change) may or may not
 * have been applied. The key is unique to this session, so the write is made idempotent the way
 * etcd's concurrency package makes it (mutex.go, election.go): put only if the key does not exist
 * (create revision 0), otherwise read it back. A retry therefore adopts the entry an earlier
 * attempt created, with its create revision (its place in the queue and its fencing token), or
 * creates it if no attempt was applied; never two entries.
 *
 * With a `scope` it retries transient failures with a bounded backoff on the session's clock
 * until the scope ends (timeout, abort, session loss); without one (tryLock, tryAcquire) it makes
 * one attempt. On failure it deletes the key if an attempt may have created it.
 *
 * `key` is the entry's key (a layout's, see {@link QueueLayout}); by default one unique to this
 * call. A key that exists before the first attempt belongs to another holder or waiter of this
 * session (a layout with one key per session per name): it is refused, and left alone.
 *
 * @throws the scope's reason (TENURE_TIMEOUT, TENURE_ABORTED, TENURE_SESSION_EXPIRED,
 * TENURE_CLOSED); TENURE_SESSION_EXPIRED when the store no longer has the lease; the store's
 * error when it is not retryable or there is no scope (TENURE_UNAVAILABLE, ...);
 * TENURE_INVALID_ARGUMENT when `key` is already this session's.
 */
export async function enqueue(
  session: Session,
  prefix: string,
  value: string,
  scope?: WaitScope,
  window = 0,
  layoutKey?: string,
): Promise<Ticket> {
  session.throwIfDead();
  const key = layoutKey ?? session.uniqueKey(prefix);
  let inUse = false;
  for (let failures = 0; ;) {
    try {
      const res = await session.store.txn({
        compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
        success: [
          { type: 'put', key, value, lease: session.lease },
          { type: 'get', key: prefix, prefix: true, ...newest(window) },
        ],
        // The adopting read must see every entry ahead of ours. Entries may have been created
        // behind ours since the lost attempt, so a read of only the newest entries could miss
        // those ahead and let us hold too early (blip.test.ts, "newer entries behind it"). This
        // whole read happens only on a retry after a lost reply.
        failure: [
          { type: 'get', key },
          { type: 'get', key: prefix, prefix: true },
        ],
      });
      const read = res.results[1];
      const queue = read?.type === 'get' ? [...read.kvs].sort(byCreateRevision) : [];
      if (res.succeeded) return reusable(session, layoutKey, { key, createRevision: res.revision, queue });
      if (failures === 0) {
        // No attempt of this call preceded this one: the key is another call's (etcd's layout
        // has one key per session per name). Adopting it would make two holders of one key.
        inUse = true;
        throw invalidArgument(
          'session',
          `already has the queue key ${key} (another lock or campaign of this session on this name holds or waits for it; one key per session per name): close it first, or use another session`,
          { key },
        );
      }
      // An earlier attempt was applied and its reply lost: this is our entry (the key name holds
      // our lease, and nobody else writes it). Adopt it.
      const own = res.results[0]?.type === 'get' ? res.results[0].kvs[0] : undefined;
      if (own === undefined || own.lease !== session.lease)
        throw new TenureError('TENURE_CORRUPT', `queue key ${key} exists without this session's lease`, {
          details: { key, lease: own?.lease ?? null },
        });
      return reusable(session, layoutKey, { key, createRevision: own.createRevision, queue });
    } catch (err) {
      if (inUse) throw err; // not ours to remove
      const retry = scope !== undefined && isTransient(err) && !scope.aborted && session.alive;
      if (retry) {
        await backoff(session, scope, ++failures);
        if (!scope.aborted && session.alive) continue;
      }
      // The put may have committed before the error reached us (etcd issue 21128): remove it.
      // Not awaited: while the store is unreachable that would hold the caller past its timeout;
      // removeKey keeps trying while the session lives, and the lease's end removes it after.
      void removeKey(session, key);
      // Raft applies a lost write before our delete if it is ahead of it in the log; but one still
      // in transit to the leader (a follower forwarding it during a leader change) could land
      // after it, leaving an entry nobody waits for at the head of the queue until the session
      // ends. Delete once more a ttl later: the name is never reused, so this is always safe.
      if (isTransient(err))
        session.clock
          .setTimeout(() => {
            // A reused name (a layout's key) may be another enqueue's entry by now: leave that one.
            if (session.alive && !reusedKeys.get(session)?.has(key)) void removeKey(session, key);
          }, session.ttlMs)
          .unref();
      if (isTenureError(err, 'TENURE_LEASE_NOT_FOUND')) session.throwIfDead();
      if (scope !== undefined && isTransient(err)) {
        // Out of time or out of session: say which, rather than the last transient error.
        session.throwIfDead();
        scope.throwIfAborted();
      }
      throw err;
    }
  }
}

/** The selection of a read of only the `window` newest entries of a queue (0: all of it). */
function newest(window: number): Partial<GetOp> {
  return window > 0 ? { order: 'createRevisionDescending', limit: window } : {};
}

/**
 * Per session, the create revision of each layout key (one per session per name, reused from one
 * lock to the next: etcd-layout.ts) that this session's entry has in the store. A removal of
 * such a key deletes only that entry, never a later lock's entry under the same name: a delete
 * retried after a lost reply, or made late, would otherwise remove the next holder's key.
 */
const reusedKeys = new WeakMap<Session, Map<string, number>>();

/** Records a ticket's layout key (see reusedKeys); tenure's own keys are never reused. */
function reusable(session: Session, layoutKey: string | undefined, ticket: Ticket): Ticket {
  if (layoutKey !== undefined) {
    let keys = reusedKeys.get(session);
    if (keys === undefined) reusedKeys.set(session, (keys = new Map()));
    keys.set(layoutKey, ticket.createRevision);
  }
  return ticket;
}

/**
 * Deletes a queue key, retrying transient failures while the session lives (after that the
 * lease's expiry deletes it). Resolves true once the store confirmed the key is gone.
 */
export async function removeKey(session: Session, key: string): Promise<boolean> {
  const keys = reusedKeys.get(session);
  const createRevision = keys?.get(key);
  for (let attempt = 0; ; attempt++) {
    try {
      if (createRevision !== undefined) {
        // A reused layout key: only the entry this session made (etcd's Resign compares the same).
        await session.store.txn({
          compare: [{ key, target: 'createRevision', op: '=', value: createRevision }],
          success: [{ type: 'delete', key }],
        });
        if (keys!.get(key) === createRevision) keys!.delete(key);
        return true;
      }
      // A layout key whose entry is unknown (a failed enqueue): stop once a newer entry is ours.
      if (attempt > 0 && reusedKeys.get(session)?.has(key)) return false;
      // No compare needed: queue key names are unique to this session (lease, process, counter),
      // so nobody else ever creates this key. A plain delete is also etcd's cheaper DeleteRange.
      await session.store.delete(key);
      return true;
    } catch (err) {
      if (isTenureError(err, 'TENURE_CLOSED') || isTenureError(err, 'TENURE_INVALID_ARGUMENT')) return false;
      if (session.status !== 'alive' && !isTenureError(err, 'TENURE_UNAVAILABLE')) return false;
      if (!session.alive) return false;
      await sleep(Math.min(1000, 25 * 2 ** attempt), { clock: session.clock });
    }
  }
}

const fanOuts = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fn` once when `signal` aborts; returns the function that removes it. Every wait on one
 * signal (a session's, or one shutdown signal a caller passes to all its waits) shares a single
 * listener on it that fans out to a Set: 10,000 waits on one session add one listener, not
 * 10,000 (no MaxListenersExceededWarning), and each costs O(1) to add and remove.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  let listeners = fanOuts.get(signal);
  if (listeners === undefined) {
    const set = new Set<() => void>();
    listeners = set;
    fanOuts.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        fanOuts.delete(signal);
        for (const listener of [...set]) listener();
        set.clear();
      },
      { once: true },
    );
  }
  const set = listeners;
  set.add(fn);
  return () => void set.delete(fn);
}

/**
 * Combines the caller's signal, the session's signal and a timeout into one end whose reason is
 * the typed error the wait must reject with. Its `signal` is made when first read: a wait that
 * never blocks (the lock was free) only asks {@link WaitScope.aborted}.
 */
export class WaitScope {
  readonly #end = new LazyEnd();
  readonly #cleanup: (() => void)[] = [];

  constructor(
    session: Session,
    what: string,
    options: WaitOptions,
    clock: Clock = session.clock ?? systemClock,
  ) {
    const user = options.signal;
    const link = (s: AbortSignal, reason: () => unknown) => {
      if (s.aborted) return this.#end.end(reason);
      this.#cleanup.push(onAbort(s, () => this.#end.end(reason)));
    };
    link(session.signal, () => session.signal.reason);
    if (user)
      link(
        user,
        () => new TenureError('TENURE_ABORTED', `${what} was aborted by its signal`, { cause: user.reason }),
      );
    if (options.timeoutMs !== undefined && !this.#end.ended) {
      const timer: Timer = clock.setTimeout(
        () =>
          this.#end.end(
            () =>
              new TenureError(
                'TENURE_TIMEOUT',
                `${what} timed out after ${options.timeoutMs} ms (options.timeoutMs)`,
              ),
          ),
        options.timeoutMs,
      );
      this.#cleanup.push(() => clock.clearTimeout(timer));
    }
  }

  /** Whether the wait has ended (timeout, abort, session loss). */
  get aborted(): boolean {
    return this.#end.ended;
  }

  /** Aborts when the wait ends, with the typed error as its reason. */
  get signal(): AbortSignal {
    return this.#end.signal;
  }

  throwIfAborted(): void {
    if (this.#end.ended) throw this.#end.reason;
  }

  dispose(): void {
    for (const c of this.#cleanup) c();
  }
}

/** Resolves when any of `keys` changes at or after `fromRevision`. */
export async function waitForChange(
  store: Store,
  keys: readonly string[],
  fromRevision: number,
  signal: AbortSignal,
): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  try {
    await Promise.race(
      keys.map(async (key) => {
        for await (const batch of store.watch(key, { fromRevision, signal: ac.signal }))
          if (batch.events.length > 0) return;
      }),
    );
  } finally {
    signal.removeEventListener('abort', stop);
    ac.abort();
  }
}

/**
 * Waits until the ticket's entry holds, as `rule` decides from the entries nearest ahead of it.
 * Before returning, it has read its own key back from the store (or followed the stream past the
 * last entry ahead with its own key still there) and checked that its session is alive: a waiter
 * whose lease expired while it waited is never told it holds (etcd issues 11456 and 9921), and a
 * waiter notices its own session's expiry while it waits (etcd issue 19597). Transient store
 * errors (a lost reply included) are retried with a backoff until the scope ends; a watch that
 * fell behind compaction reads again.
 *
 * Returns the rule's queue and the revision it took hold at.
 */
export async function waitBehind(
  session: Session,
  prefix: string,
  ticket: Ticket,
  rule: WaitRule,
  scope: WaitScope,
): Promise<{ queue: readonly Entry[]; revision: number }> {
  const store = session.store;
  // Entries created at or before this revision are still to be read.
  let below = ticket.createRevision - 1;
  let ahead: readonly Entry[] | undefined = nearestAhead(ticket, rule.limit);
  let own: Entry | undefined = ticket.queue.find((e) => e.key === ticket.key);
  let revision = ticket.createRevision;
  for (let failures = 0; ;) {
    scope.throwIfAborted();
    session.throwIfDead();
    let step: Step;
    try {
      if (ahead === undefined)
        ({ own, ahead, revision } = await readAhead(store, prefix, ticket, below, rule.limit));
      if (own === undefined || own.createRevision !== ticket.createRevision)
        throw lostWhileWaiting(session, ticket);
      step = rule.next(ahead, own);
      if (step.kind === 'hold') {
        scope.throwIfAborted();
        session.throwIfDead();
        return { queue: step.queue, revision };
      }
      if (step.kind === 'read') {
        below = step.below;
        ahead = undefined;
        continue;
      }
    } catch (err) {
      if (!isTransient(err)) throw err;
      ahead = undefined;
      await backoff(session, scope, ++failures);
      continue;
    }
    try {
      if (step.kind === 'follow') {
        const at = await followUntilFewer(
          store,
          prefix,
          step.entries,
          step.holdBelow,
          revision,
          ticket,
          scope.signal,
        );
        ahead = undefined;
        if (at !== undefined) {
          // It holds at that revision: with no read (nothing is ahead any more that it waits
          // for), or after one that returns the entries still ahead.
          if (!step.thenRead) {
            ahead = [];
            revision = at;
          }
          continue;
        }
      } else {
        await waitForChange(store, [step.entry.key], revision + 1, scope.signal);
        ahead = undefined;
        if (step.below !== undefined) below = step.below;
      }
      failures = 0;
    } catch (err) {
      scope.throwIfAborted();
      ahead = undefined;
      if (isTenureError(err, 'TENURE_COMPACTED')) continue; // fell behind: read again
      if (!isTransient(err)) throw err;
      await backoff(session, scope, ++failures);
    }
  }
}

/**
 * The entries just ahead of a ticket's own, nearest first, at most `max` of them, from what
 * {@link enqueue} read with it.
 */
function nearestAhead(ticket: Ticket, max: number): Entry[] {
  return ticket.queue
    .filter((e) => e.createRevision < ticket.createRevision)
    .sort((a, b) => b.createRevision - a.createRevision)
    .slice(0, max);
}

/**
 * Reads, in one transaction, the ticket's own key and the `limit` entries nearest ahead of the
 * create revision `below` (inclusive), nearest first: O(limit) however long the queue.
 */
async function readAhead(
  store: Store,
  prefix: string,
  ticket: Ticket,
  below: number,
  limit: number,
): Promise<{ own: Entry | undefined; ahead: Entry[]; revision: number }> {
  const res = await store.txn({
    success: [
      { type: 'get', key: ticket.key },
      {
        type: 'get',
        key: prefix,
        prefix: true,
        maxCreateRevision: Math.max(0, below),
        order: 'createRevisionDescending',
        limit,
      },
    ],
  });
  const [mine, before] = res.results;
  return {
    own: mine?.type === 'get' ? mine.kvs[0] : undefined,
    ahead: before?.type === 'get' ? [...before.kvs] : [],
    revision: res.revision,
  };
}

function lostWhileWaiting(session: Session, ticket: Ticket): TenureError {
  session.throwIfDead();
  return new TenureError('TENURE_LOCK_LOST', `queue key ${ticket.key} was deleted while it waited`, {
    details: { key: ticket.key },
  });
}

/**
 * Follows the queue's ordered stream after `from` until fewer than `holdBelow` of the `tracked`
 * entries are left, and returns that revision: no entry can ever be created ahead of the ticket,
 * so the ticket's count of blocking entries ahead can only fall, and it holds there with no read.
 * Its own key's delete means it was lost (undefined: read again, which says so). Everything else
 * costs O(1) per event.
 */
async function followUntilFewer(
  store: Store,
  prefix: string,
  tracked: readonly Entry[],
  holdBelow: number,
  from: number,
  ticket: Ticket,
  signal: AbortSignal,
): Promise<number | undefined> {
  const left = new Set(tracked.map((e) => e.key));
  for await (const batch of store.watch(prefix, { prefix: true, fromRevision: from + 1, signal })) {
    let at: number | undefined;
    for (const e of batch.events) {
      if (e.type !== 'delete') continue;
      if (e.kv.key === ticket.key) return undefined;
      if (left.delete(e.kv.key) && at === undefined && left.size < holdBelow) at = e.kv.modRevision;
    }
    if (at !== undefined) return at;
  }
  throw new TenureError('TENURE_UNAVAILABLE', 'the queue watch ended before the wait did');
}

function isTransient(err: unknown): boolean {
  return err instanceof TenureError && err.retryable;
}

async function backoff(session: Session, scope: WaitScope, failures: number): Promise<void> {
  const ms = Math.min(1000, 10 * 2 ** Math.min(failures, 7));
  await sleep(ms, { signal: scope.signal, clock: session.clock });
}

/**
 * The whole of taking a turn: enqueue (reading, with the put, its own entry and the `rule.limit`
 * entries ahead), wait until `rule` says it holds, then `onHeld`. On any failure (abort, timeout,
 * session loss, store error) the queue key is removed before rejecting, so a failed wait leaves
 * no trace.
 */
export async function takeTurn<T>(
  session: Session,
  what: string,
  prefix: string,
  value: string,
  rule: WaitRule,
  options: WaitOptions | undefined,
  onHeld: (
    ticket: Ticket,
    turn: { queue: readonly Entry[]; revision: number },
    scope: WaitScope,
  ) => Promise<T> | T,
  key?: string,
): Promise<T> {
  const scope = new WaitScope(session, what, checkWaitOptions(options));
  try {
    scope.throwIfAborted();
    const ticket = await enqueue(session, prefix, value, scope, rule.limit + 1, key);
    try {
      return await onHeld(ticket, await waitBehind(session, prefix, ticket, rule, scope), scope);
    } catch (err) {
      await removeKey(session, ticket.key);
      throw err;
    }
  } finally {
    scope.dispose();
  }
}

/**
 * Where a recipe's queue lives when it is not tenure's own layout (`<kind><name>/` and a key unique
 * to each call): how names are checked, the queue's prefix, and the key of a session's entry
 * (etcd-layout.ts).
 */
export interface QueueLayout {
  /** @throws TENURE_INVALID_ARGUMENT for a name the layout cannot use. */
  readonly checkName: (name: string) => void;
  readonly prefix: (name: string) => string;
  readonly key: (session: Session, prefix: string) => string;
}

/** What every queue recipe is: a session, a checked name, and the key prefix of its queue. */
export abstract class QueueRecipe {
  readonly session: Session;
  readonly name: string;
  /** The key prefix of this recipe's queue. */
  readonly prefix: string;
  readonly #layout: QueueLayout | undefined;

  constructor(session: Session, name: string, kind: QueueKind, layout?: QueueLayout) {
    if (layout) layout.checkName(name);
    else checkName(name);
    this.session = session;
    this.name = name;
    this.prefix = layout ? layout.prefix(name) : queuePrefix(kind, name);
    this.#layout = layout;
  }

  /** The key of this session's next entry in the queue: the layout's, else undefined (one unique to the call). */
  protected entryKey(): string | undefined {
    return this.#layout?.key(this.session, this.prefix);
  }

  /** The queue in order: holders (or the leader) first, then the waiters. */
  protected async entries(): Promise<Entry[]> {
    const { kvs } = await this.session.store.range(this.prefix);
    return [...kvs].sort(byCreateRevision);
  }
}
