/**
 * A Session owns one lease and keeps it alive with heartbeats. Every recipe (election, locks,
 * membership) takes a session; whatever it holds is attached to the session's lease, so it all
 * disappears together, atomically, when the session ends.
 *
 * The client-side deadline follows Chubby's client lease (Burrows, OSDI 2006): the session is
 * lost at (send time of the last acknowledged keepalive + ttl, less 0.1% for clock-rate
 * differences) on this process's monotonic clock.
 * The store cannot expire the lease before that moment, because the keepalive was received after
 * it was sent, so a process stops acting on what it holds no later than the store lets someone
 * else take it. (The etcd3 npm package instead declares a lease lost only after 2×ttl: etcd3
 * issue 155.)
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type Timer } from '../../clock.js';
import { TenureError, abortedError, invalidArgument, isTenureError } from '../../errors.js';
import type { LeaseId, Store } from '../../store/types.js';
import { checkInteger } from '../../store/validate.js';

/** Where a session is in its life. */
export type SessionStatus = 'alive' | 'expired' | 'closed';

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /**
   * Lease ttl: how long after its last acknowledged heartbeat a crashed or paused process keeps
   * what it holds. The time a failover takes after a crash.
   *
   * At least the store's `capabilities.minTtlMs`: 500 ms on memory and SQLite, 2000 ms on etcd
   * (what its server grants). A smaller ttl is refused with TENURE_INVALID_ARGUMENT naming
   * `options.ttlMs` (`details.option` `'ttlMs'`, `details.minimum`), never raised silently.
   * @default 10000 — fails over in about ten seconds while riding out multi-second GC pauses and
   * store elections (or the store's minimum, if that is higher).
   */
  ttlMs?: number;
  /**
   * Time between heartbeats.
   * @default ttlMs / 3 — two heartbeats can be lost before the lease is in danger.
   */
  keepAliveIntervalMs?: number;
  /** Monotonic clock for deadlines and heartbeats. @default systemClock */
  clock?: Clock;
  /** Aborts the lease grant. */
  signal?: AbortSignal;
}

/** Defaults of {@link SessionOptions}. */
export const SESSION_DEFAULTS = Object.freeze({ ttlMs: 10_000, keepAliveDivisor: 3 });

/** Events of a {@link Session}. */
export interface SessionEvents {
  /** The status changed. */
  status: [status: SessionStatus];
  /** A heartbeat was acknowledged, `latencyMs` after it was sent. */
  keepalive: [latencyMs: number];
  /** A heartbeat failed; the session lives on until its deadline. */
  keepaliveError: [error: unknown];
}

let nextLocalId = 0;

/**
 * Two machines' monotonic clocks may run at slightly different rates (NTP slews a clock by up to
 * 500 ppm). The client counts its ttl 0.1% short, so that its deadline comes before the store's
 * expiry even when the store's clock runs that much faster (Chubby §2.8 makes the same allowance).
 */
const CLOCK_RATE_ALLOWANCE = 0.001;

function countedTtl(ttlMs: number): number {
  return ttlMs * (1 - CLOCK_RATE_ALLOWANCE);
}

/**
 * A lease kept alive by heartbeats.
 *
 * @example
 * ```ts
 * await using session = await Session.create(store, { ttlMs: 5000 });
 * session.signal.addEventListener('abort', () => stopWork());
 * ```
 */
export class Session extends EventEmitter<SessionEvents> {
  /** The store the lease lives in. */
  readonly store: Store;
  /** The lease id: every key a recipe writes for this session is attached to it. */
  readonly lease: LeaseId;
  /** The ttl this session counts with (≤ the store's granted ttl). */
  readonly ttlMs: number;
  /** Heartbeat interval. */
  readonly keepAliveIntervalMs: number;
  /** Aborts when the session expires (reason: TENURE_SESSION_EXPIRED) or closes (TENURE_CLOSED). */
  readonly signal: AbortSignal;
  /** The clock deadlines are measured on. */
  readonly clock: Clock;
  readonly #abort = new AbortController();
  #status: SessionStatus = 'alive';
  /** Why the last keepalive failed, if it did: the cause of an expiry by deadline (a full disk...). */
  #lastBeatError: unknown;
  #deadline: number;
  #beatTimer: Timer | undefined;
  #lossTimer: Timer | undefined;
  #closing: Promise<void> | undefined;
  #seq = 0;
  readonly #localId = ++nextLocalId;

  private constructor(
    store: Store,
    lease: LeaseId,
    ttlMs: number,
    intervalMs: number,
    clock: Clock,
    deadline: number,
  ) {
    super();
    this.store = store;
    this.lease = lease;
    this.ttlMs = ttlMs;
    this.keepAliveIntervalMs = intervalMs;
    this.clock = clock;
    this.signal = this.#abort.signal;
    this.#deadline = deadline;
    this.#armLossTimer();
    this.#scheduleBeat(intervalMs);
  }

  /**
   * Grants a lease and starts heartbeats.
   * @throws TENURE_INVALID_ARGUMENT for a bad option (named in the message); TENURE_ABORTED when
   * `options.signal` aborts; TENURE_UNAVAILABLE when the store cannot grant the lease (retryable
   * unless the store refused it); TENURE_CLOSED when the store was closed.
   */
  static async create(store: Store, options: SessionOptions = {}): Promise<Session> {
    if (store === null || typeof store !== 'object' || typeof store.grant !== 'function')
      throw invalidArgument('store', 'must be a Store (see openStore)');
    const caps = store.capabilities;
    const ttlMs = options.ttlMs ?? Math.max(SESSION_DEFAULTS.ttlMs, caps.minTtlMs);
    // Checked before anything derived from it (keepAliveIntervalMs = ttl/3), so that the error
    // names the option the caller set. `details.option` lets a CLI say it in its own words (--ttl).
    const range = { option: 'ttlMs', minimum: caps.minTtlMs, maximum: caps.maxTtlMs, backend: caps.backend };
    if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs))
      throw invalidArgument(
        'options.ttlMs',
        `must be an integer number of milliseconds, got ${String(ttlMs)}`,
        range,
      );
    if (ttlMs < caps.minTtlMs)
      throw invalidArgument(
        'options.ttlMs',
        `must be at least ${caps.minTtlMs} ms on the ${caps.backend} store (capabilities.minTtlMs: below it a session cannot reliably keep its lease), got ${ttlMs}`,
        range,
      );
    if (ttlMs > caps.maxTtlMs)
      throw invalidArgument(
        'options.ttlMs',
        `must be at most ${caps.maxTtlMs} ms on the ${caps.backend} store (capabilities.maxTtlMs), got ${ttlMs}`,
        range,
      );
    const intervalMs = options.keepAliveIntervalMs ?? Math.floor(ttlMs / SESSION_DEFAULTS.keepAliveDivisor);
    checkInteger(intervalMs, 'options.keepAliveIntervalMs', 1);
    if (intervalMs >= ttlMs)
      throw invalidArgument(
        'options.keepAliveIntervalMs',
        `must be below options.ttlMs (${ttlMs}); ttl/3 is a good choice`,
      );
    const clock = options.clock ?? systemClock;
    if (options.signal?.aborted) throw abortedError(options.signal, 'session creation');
    const sentAt = clock.now();
    const lease = await store.grant(ttlMs);
    const ttl = Math.min(ttlMs, lease.ttlMs);
    if (options.signal?.aborted) {
      await store.revoke(lease.id).catch(() => undefined);
      throw abortedError(options.signal, 'session creation');
    }
    return new Session(store, lease.id, ttl, intervalMs, clock, sentAt + countedTtl(ttl));
  }

  /**
   * Where the session is in its life. Past its deadline it reports `expired` even before the timer
   * that ends it fires: it compares the deadline with {@link Session.clock}, and changes nothing (a
   * getter has no side effects). To also abort the signal then, call {@link Session.throwIfDead}
   * or {@link Session.checkDeadline}. Never throws.
   */
  get status(): SessionStatus {
    if (this.#status === 'alive' && this.clock.now() >= this.#deadline) return 'expired';
    return this.#status;
  }

  /** The moment (on {@link Session.clock}) at which this process considers the session lost. */
  get deadline(): number {
    return this.#deadline;
  }

  /** Milliseconds until the session is considered lost (0 once it is). Never throws. */
  remainingMs(): number {
    return this.#status === 'alive' ? Math.max(0, this.#deadline - this.clock.now()) : 0;
  }

  /**
   * True while the session is alive and its deadline (send time of the last acknowledged
   * heartbeat + ttl) has not passed on {@link Session.clock}. It reads the clock itself, so it is
   * right at once after a freeze, before the timer that aborts {@link Session.signal} has run.
   * No side effects: to also abort the signal, call {@link Session.throwIfDead}.
   */
  get alive(): boolean {
    return this.remainingMs() > 0;
  }

  /** A key name unique to this session, for recipes' queue entries. Never throws. */
  uniqueKey(prefix: string): string {
    return `${prefix}${this.lease}-${this.#localId}-${++this.#seq}`;
  }

  /**
   * The session's form of the check before an external effect (locks and leaderships have
   * `throwIfLost()`): synchronous, it compares the deadline with the monotonic clock, and when it
   * has passed it ends the session there (aborting its signal) before throwing.
   * @throws TENURE_SESSION_EXPIRED when the session expired (its deadline passed, or the store
   * lost its lease); TENURE_CLOSED when it was closed.
   */
  throwIfDead(): void {
    this.checkDeadline();
    if (this.#status !== 'alive') throw this.signal.reason;
  }

  /**
   * Expires the session now if its deadline passed but its loss timer has not fired yet (a
   * blocked event loop delays timers; the deadline is what counts). Never throws.
   */
  checkDeadline(): void {
    if (this.#status === 'alive' && this.clock.now() >= this.#deadline) this.#expireUnacknowledged();
  }

  #scheduleBeat(delayMs: number): void {
    this.#beatTimer = this.clock.setTimeout(() => void this.#beat(), delayMs);
  }

  async #beat(): Promise<void> {
    if (this.#status !== 'alive') return;
    const sentAt = this.clock.now();
    try {
      const ttl = await this.store.keepAlive(this.lease);
      if (this.#status !== 'alive') return;
      const deadline = sentAt + countedTtl(Math.min(ttl, this.ttlMs));
      if (deadline > this.#deadline) this.#deadline = deadline;
      this.#lastBeatError = undefined;
      this.emit('keepalive', this.clock.now() - sentAt);
      this.#scheduleBeat(Math.max(0, this.keepAliveIntervalMs - (this.clock.now() - sentAt)));
    } catch (err) {
      if (this.#status !== 'alive') return;
      if (isTenureError(err, 'TENURE_LEASE_NOT_FOUND') || isTenureError(err, 'TENURE_CLOSED')) {
        // After failed keepalives (a full disk...), the lease ran out: that failure is the cause.
        const earlier = this.#lastBeatError;
        this.#expire(
          earlier === undefined
            ? 'the store no longer has its lease'
            : `the store no longer has its lease: its keepalives failed (${earlier instanceof Error ? earlier.message : String(earlier)})`,
          earlier ?? err,
        );
        return;
      }
      this.#lastBeatError = err;
      this.emit('keepaliveError', err);
      // Retry sooner than the regular interval: the deadline is what matters now.
      const remaining = this.#deadline - this.clock.now();
      this.#scheduleBeat(Math.min(this.keepAliveIntervalMs, Math.max(20, remaining / 4)));
    }
  }

  #armLossTimer(): void {
    this.#lossTimer = this.clock.setTimeout(() => {
      if (this.#status !== 'alive') return;
      if (this.clock.now() >= this.#deadline) this.#expireUnacknowledged();
      else this.#armLossTimer();
    }, this.#deadline - this.clock.now());
  }

  #expireUnacknowledged(): void {
    const err = this.#lastBeatError;
    this.#expire(
      err === undefined
        ? 'its heartbeats stopped being acknowledged'
        : `its heartbeats stopped being acknowledged (the last failed: ${err instanceof Error ? err.message : String(err)})`,
      err,
    );
  }

  #stopTimers(): void {
    if (this.#beatTimer !== undefined) this.clock.clearTimeout(this.#beatTimer);
    if (this.#lossTimer !== undefined) this.clock.clearTimeout(this.#lossTimer);
  }

  #expire(why: string, cause?: unknown): void {
    if (this.#status !== 'alive') return;
    this.#status = 'expired';
    this.#stopTimers();
    this.#abort.abort(
      new TenureError(
        'TENURE_SESSION_EXPIRED',
        `session ${this.lease} expired: ${why}; everything held under it is lost`,
        {
          cause,
          details: { lease: this.lease },
        },
      ),
    );
    this.emit('status', 'expired');
    // Give the lease back early if the store still has it: others take over sooner.
    this.store.revoke(this.lease).catch(() => undefined);
  }

  /**
   * Ends the session: stops heartbeats, aborts its signal, and revokes the lease, which deletes
   * every key held under it (locks, candidacies, membership) in one revision, so that others take
   * over at once. Idempotent. If the store cannot be reached, the lease expires by its ttl.
   * Never rejects.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const wasAlive = this.#status === 'alive';
    if (wasAlive) {
      this.#status = 'closed';
      this.#stopTimers();
      this.#abort.abort(new TenureError('TENURE_CLOSED', `session ${this.lease} was closed`));
      this.emit('status', 'closed');
    }
    this.#closing = wasAlive ? this.store.revoke(this.lease).catch(() => undefined) : Promise.resolve();
    return this.#closing;
  }

  /**
   * Ends the session, as `close()` does (heartbeats stop, the lease is revoked), when an
   * `await using` declaration leaves its scope. Idempotent; never rejects.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
