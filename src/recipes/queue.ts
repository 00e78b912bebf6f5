/**
 * The mechanism under every lock and election: a queue of keys under one prefix, ordered by
 * create revision, each attached to its session's lease (etcd's concurrency package works the
 * same way). A waiter watches only the one key it waits behind, so a release wakes one waiter,
 * not all of them. A held entry's create revision is its fencing token.
 */
import { systemClock, type Clock, type Timer } from '../clock.js';
import { TenureError, invalidArgument, isTenureError } from '../errors.js';
import type { GetOp, KeyValue, Store } from '../store/types.js';
import { checkSignal } from '../store/validate.js';
import { checkName } from './names.js';
import { queuePrefix, type QueueKind } from './queue-layout.js';
import type { Session } from './session.js';
import { sleep } from '../sleep.js';

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
 * Decides, for the entry at `index` of the ordered queue, which keys it must wait behind (any
 * change to one of them wakes it to decide again); an empty list when it holds.
 */
export type Blocker = (queue: readonly Entry[], index: number) => readonly Entry[];

/**
 * The blocker of every exclusive turn (a mutex, a leadership, a write lock): an entry holds when
 * nothing is ahead of it, and waits behind the entry just ahead. {@link takeTurn} knows it and
 * never reads the whole queue for it: each check reads only the two entries just ahead of its
 * own, by create revision (etcd's waitDeletes), so a waiter's store work and memory stay O(1)
 * reads of O(log n) cost however long the queue (issue 10: 10,000 waiters on one lock).
 */
export const behindAll: Blocker = (queue, index) => (index === 0 ? [] : [queue[index - 1]!]);

/** How many of the newest entries an exclusive turn reads: its own and the two ahead of it. */
const BEHIND_ALL_WINDOW = 3;

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
 * @throws the scope's reason (TENURE_TIMEOUT, TENURE_ABORTED, TENURE_SESSION_EXPIRED,
 * TENURE_CLOSED); TENURE_SESSION_EXPIRED when the store no longer has the lease; the store's
 * error when it is not retryable or there is no scope (TENURE_UNAVAILABLE, ...).
 */
export async function enqueue(
  session: Session,
  prefix: string,
  value: string,
  scope?: WaitScope,
  window = 0,
): Promise<Ticket> {
  session.throwIfDead();
  const key = session.uniqueKey(prefix);
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
      if (res.succeeded) return { key, createRevision: res.revision, queue };
      // An earlier attempt was applied and its reply lost: this is our entry (the key name holds
      // our lease, and nobody else writes it). Adopt it.
      const own = res.results[0]?.type === 'get' ? res.results[0].kvs[0] : undefined;
      if (own === undefined || own.lease !== session.lease)
        throw new TenureError('TENURE_CORRUPT', `queue key ${key} exists without this session's lease`, {
          details: { key, lease: own?.lease ?? null },
        });
      return { key, createRevision: own.createRevision, queue };
    } catch (err) {
      const retry = scope !== undefined && isTransient(err) && !scope.signal.aborted && session.alive;
      if (retry) {
        await backoff(session, scope, ++failures);
        if (!scope.signal.aborted && session.alive) continue;
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
            if (session.alive) void removeKey(session, key);
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
 * Deletes a queue key, retrying transient failures while the session lives (after that the
 * lease's expiry deletes it). Resolves true once the store confirmed the key is gone.
 */
export async function removeKey(session: Session, key: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
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
 * Combines the caller's signal, the session's signal and a timeout into one signal whose reason
 * is the typed error the wait must reject with.
 */
export class WaitScope {
  readonly #ac = new AbortController();
  readonly signal: AbortSignal = this.#ac.signal;
  readonly #cleanup: (() => void)[] = [];

  constructor(
    session: Session,
    what: string,
    options: WaitOptions,
    clock: Clock = session.clock ?? systemClock,
  ) {
    const user = options.signal;
    const link = (s: AbortSignal, reason: () => unknown) => {
      if (s.aborted) return this.#ac.abort(reason());
      this.#cleanup.push(onAbort(s, () => this.#ac.abort(reason())));
    };
    link(session.signal, () => session.signal.reason);
    if (user)
      link(
        user,
        () => new TenureError('TENURE_ABORTED', `${what} was aborted by its signal`, { cause: user.reason }),
      );
    if (options.timeoutMs !== undefined && !this.signal.aborted) {
      const timer: Timer = clock.setTimeout(
        () =>
          this.#ac.abort(
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

  throwIfAborted(): void {
    if (this.signal.aborted) throw this.signal.reason;
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
 * Waits until the ticket's entry holds, as decided by `blocker`. Before returning, it has read
 * its own key back from the store and checked that its session is alive: a waiter whose lease
 * expired while it waited is never told it holds (etcd issues 11456 and 9921), and a waiter
 * notices its own session's expiry while it waits (etcd issue 19597).
 *
 * Returns the queue, and the revision it was read at, when it took hold.
 */
export async function waitForTurn(
  session: Session,
  prefix: string,
  ticket: Ticket,
  blocker: Blocker,
  scope: WaitScope,
): Promise<{ queue: readonly Entry[]; revision: number }> {
  if (blocker === behindAll) return waitBehindAll(session, prefix, ticket, scope);
  const store = session.store;
  let snapshot: { queue: readonly Entry[]; revision: number } | undefined = {
    queue: ticket.queue,
    revision: ticket.createRevision,
  };
  for (let failures = 0; ;) {
    scope.throwIfAborted();
    session.throwIfDead();
    let blocking: readonly Entry[];
    let revision: number;
    let current: readonly Entry[];
    let index: number;
    try {
      if (snapshot === undefined) {
        // A serializable read is enough here: keys ahead of ours can only disappear (any new key
        // is created later, behind ours), so a read that is a little behind can only make us
        // wait longer, never hold too early. One older than our own key proves nothing: read
        // again, linearizably.
        let read = await store.range(prefix, { serializable: true });
        if (read.revision < ticket.createRevision) read = await store.range(prefix);
        snapshot = { queue: [...read.kvs].sort(byCreateRevision), revision: read.revision };
      }
      const { queue } = snapshot;
      revision = snapshot.revision;
      current = queue;
      snapshot = undefined;
      index = queue.findIndex((e) => e.key === ticket.key);
      if (index < 0 || queue[index]!.createRevision !== ticket.createRevision) {
        session.throwIfDead();
        throw new TenureError('TENURE_LOCK_LOST', `queue key ${ticket.key} was deleted while it waited`, {
          details: { key: ticket.key },
        });
      }
      blocking = blocker(queue, index);
      if (blocking.length === 0) {
        scope.throwIfAborted();
        session.throwIfDead();
        return { queue, revision };
      }
    } catch (err) {
      if (!isTransient(err)) throw err;
      await backoff(session, scope, ++failures);
      continue;
    }
    try {
      if (blocking.length === index) {
        // Next in line: everything ahead is a blocker. Follow the queue's own ordered stream, so
        // the release that lets it hold needs no read afterwards (one watch delivery).
        snapshot = await followQueue(store, prefix, current, revision, ticket, blocker, scope.signal);
      } else {
        await waitForChange(
          store,
          blocking.map((e) => e.key),
          revision + 1,
          scope.signal,
        );
      }
      failures = 0;
    } catch (err) {
      scope.throwIfAborted();
      if (isTenureError(err, 'TENURE_COMPACTED')) continue; // fell behind: read again
      if (!isTransient(err)) throw err;
      await backoff(session, scope, ++failures);
    }
  }
}

/**
 * Applies the prefix's events, in revision order, to the queue as last read, until `blocker`
 * says the ticket holds or its own key is gone. The stream is ordered and complete, so the queue
 * it yields at an event's revision is exactly what a read at that revision would return:
 * holding on it is as safe as holding on a fresh read, and needs no read.
 */
async function followQueue(
  store: Store,
  prefix: string,
  queue: readonly Entry[],
  from: number,
  ticket: Ticket,
  blocker: Blocker,
  signal: AbortSignal,
): Promise<{ queue: readonly Entry[]; revision: number }> {
  const entries = new Map(queue.map((e) => [e.key, e]));
  let revision = from;
  for await (const batch of store.watch(prefix, { prefix: true, fromRevision: from + 1, signal })) {
    for (const e of batch.events) {
      revision = e.kv.modRevision;
      if (e.type === 'delete') entries.delete(e.kv.key);
      else entries.set(e.kv.key, e.kv);
    }
    const current = [...entries.values()].sort(byCreateRevision);
    const index = current.findIndex((e) => e.key === ticket.key);
    if (index < 0 || blocker(current, index).length === 0) return { queue: current, revision };
  }
  throw new TenureError('TENURE_UNAVAILABLE', 'the queue watch ended before the wait did');
}

/**
 * {@link waitForTurn} for {@link behindAll}, without ever reading the queue: it knows the (at
 * most two) entries just ahead of its own. With two or more ahead, it watches the key just ahead
 * and, when that changes, reads its own key and the two entries now ahead of it, by create
 * revision, in one transaction. With one ahead, it is next in line: it follows the queue's
 * ordered stream, and the delete of the entry ahead lets it hold at that revision with no read
 * (no key can ever be created ahead of it). A release therefore wakes one waiter, which makes at
 * most one read of O(log n) cost.
 */
async function waitBehindAll(
  session: Session,
  prefix: string,
  ticket: Ticket,
  scope: WaitScope,
): Promise<{ queue: readonly Entry[]; revision: number }> {
  const store = session.store;
  let ahead: readonly Entry[] | undefined = ticket.queue.filter(
    (e) => e.createRevision < ticket.createRevision,
  );
  let revision = ticket.createRevision;
  let own: Entry | undefined = ticket.queue.find((e) => e.key === ticket.key);
  for (let failures = 0; ;) {
    scope.throwIfAborted();
    session.throwIfDead();
    try {
      if (ahead === undefined) {
        const res = await store.txn({
          success: [
            { type: 'get', key: ticket.key },
            {
              type: 'get',
              key: prefix,
              prefix: true,
              maxCreateRevision: ticket.createRevision - 1,
              ...newest(BEHIND_ALL_WINDOW - 1),
            },
          ],
        });
        const [mine, before] = res.results;
        own = mine?.type === 'get' ? mine.kvs[0] : undefined;
        ahead = before?.type === 'get' ? [...before.kvs].sort(byCreateRevision) : [];
        revision = res.revision;
      }
      if (own === undefined || own.createRevision !== ticket.createRevision) {
        session.throwIfDead();
        throw new TenureError('TENURE_LOCK_LOST', `queue key ${ticket.key} was deleted while it waited`, {
          details: { key: ticket.key },
        });
      }
      if (ahead.length === 0) {
        scope.throwIfAborted();
        session.throwIfDead();
        return { queue: [own], revision };
      }
    } catch (err) {
      if (!isTransient(err)) throw err;
      ahead = undefined;
      await backoff(session, scope, ++failures);
      continue;
    }
    const next = ahead[ahead.length - 1]!;
    try {
      if (ahead.length === 1) {
        const at = await followBehind(store, prefix, next, revision, ticket, scope.signal);
        if (at !== undefined) {
          ahead = [];
          revision = at;
          continue;
        }
      } else await waitForChange(store, [next.key], revision + 1, scope.signal);
      ahead = undefined;
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
 * Follows the queue's ordered stream after `from` until the entry just ahead (the only one left)
 * is deleted, and returns that revision: the ticket holds there. Its own key's delete first means
 * the ticket was lost (undefined: read again, which says so). Other changes, behind it, are
 * skipped in O(1) each.
 */
async function followBehind(
  store: Store,
  prefix: string,
  ahead: Entry,
  from: number,
  ticket: Ticket,
  signal: AbortSignal,
): Promise<number | undefined> {
  for await (const batch of store.watch(prefix, { prefix: true, fromRevision: from + 1, signal })) {
    let goneAt: number | undefined;
    for (const e of batch.events) {
      if (e.type !== 'delete') continue;
      if (e.kv.key === ticket.key) return undefined;
      if (e.kv.key === ahead.key && goneAt === undefined) goneAt = e.kv.modRevision;
    }
    if (goneAt !== undefined) return goneAt;
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
 * The whole of taking a turn: enqueue, wait until `blocker` says it holds, then `onHeld`. On any
 * failure (abort, timeout, session loss, store error) the queue key is removed before rejecting,
 * so a failed wait leaves no trace.
 */
export async function takeTurn<T>(
  session: Session,
  what: string,
  prefix: string,
  value: string,
  blocker: Blocker,
  options: WaitOptions | undefined,
  onHeld: (
    ticket: Ticket,
    turn: { queue: readonly Entry[]; revision: number },
    scope: WaitScope,
  ) => Promise<T> | T,
): Promise<T> {
  const scope = new WaitScope(session, what, checkWaitOptions(options));
  try {
    scope.throwIfAborted();
    const ticket = await enqueue(
      session,
      prefix,
      value,
      scope,
      blocker === behindAll ? BEHIND_ALL_WINDOW : 0,
    );
    try {
      return await onHeld(ticket, await waitForTurn(session, prefix, ticket, blocker, scope), scope);
    } catch (err) {
      await removeKey(session, ticket.key);
      throw err;
    }
  } finally {
    scope.dispose();
  }
}

/** What every queue recipe is: a session, a checked name, and the key prefix of its queue. */
export abstract class QueueRecipe {
  readonly session: Session;
  readonly name: string;
  /** The key prefix of this recipe's queue. */
  readonly prefix: string;

  constructor(session: Session, name: string, kind: QueueKind) {
    checkName(name);
    this.session = session;
    this.name = name;
    this.prefix = queuePrefix(kind, name);
  }

  /** The queue in order: holders (or the leader) first, then the waiters. */
  protected async entries(): Promise<Entry[]> {
    const { kvs } = await this.session.store.range(this.prefix);
    return [...kvs].sort(byCreateRevision);
  }
}
