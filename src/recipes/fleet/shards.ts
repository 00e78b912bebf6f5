/**
 * Exclusive, fenced ownership of S slots, spread over a group's live members by the hashing
 * module's slot table.
 *
 * How exclusivity works. A member owns slot `s` exactly while the store holds the key
 * `shards/<group>/slot/<s>` created by that member under its session's lease. The key is only
 * ever created with put-if-absent (a compare on create revision 0), and only ever deleted by its
 * owner (after aborting its own signal for the slot) or by the lease's expiry, which the owner's
 * session notices first (Session's Chubby-style client deadline). So a new owner can take a slot
 * only after the old owner released it or its session expired, and the old owner's signal has
 * aborted by then. The key's create revision is the slot's fencing token: a later owner's key is
 * created at a later revision, so tokens strictly increase per slot. Pass the token to the
 * resource the slot protects: a paused process can wake up past its lease, and only the resource
 * can refuse its stale write.
 *
 * How slots move. The intended owner of each slot is written in one shared table
 * (`shards/<group>/table`), replaced by compare-and-swap and computed from the previous table
 * with minimal movement (see shard-table.ts). Each member then, in batched transactions (up to
 * 128 slots each), releases the slots the table gives to others and claims the free slots the
 * table gives to it. A membership change is planned only once the membership has been quiet for
 * `settleMs` (or after `maxSettleMs`), and only by the member with the smallest id (others step in
 * after a delay if it does not), so a storm of joins produces one or two tables, not one per join.
 *
 * Heartbeat suspicion (HeartbeatMesh) is deliberately not an input: a suspected peer may still
 * hold its lease and write, so moving its slots on suspicion would break exclusivity.
 *
 * The pieces: shard-layout.ts (keys and values), slot-map.ts (the group as last seen),
 * shard-planner.ts (when and which table to write), shard-reconciler.ts (claims, releases,
 * callbacks and drains); this file holds the options, the watch, the events and the lifecycle.
 * Every timer and wait runs on the member's session clock.
 */
import { TenureError, invalidArgument } from '../../errors.js';
import type { KeyValue, WatchBatch } from '../../store/types.js';
import { checkSignal } from '../../store/validate.js';
import { EventBuffers, type ObservedIterator } from '../event-buffer.js';
import { followPrefix } from '../follow-prefix.js';
import type { Member, Membership } from './membership.js';
import { ShardPlanner } from './shard-planner.js';
import { ShardReconciler } from './shard-reconciler.js';
import { checkSlotCount, SlotMap, SlotView } from './slot-map.js';

/** Options of {@link ShardManager.start}. */
export interface ShardManagerOptions {
  /**
   * Number of slots. Every member of the group must use the same count.
   * @default 1024 — fine enough that 100 members get within 10 % of their share, small enough that
   * a full claim is 8 transactions.
   */
  slotCount?: number;
  /**
   * Quiet time after the last membership change before a new table is planned.
   * @default 200 — a deploy's or autoscaler's burst of joins lands within it; it adds this much to a
   * failover on top of the lease expiry.
   */
  settleMs?: number;
  /**
   * Longest a plan waits for the membership to go quiet.
   * @default 2000 — a constant trickle of changes still gets planned every two seconds.
   */
  maxSettleMs?: number;
  /**
   * How long to wait for a `released` callback's promise (your in-flight work for the slot)
   * before deleting the slot's key anyway. The slot's signal has aborted before the callback runs.
   * @default 1000
   */
  drainTimeoutMs?: number;
  /**
   * Called when this member takes a slot: `token` is its fencing token, `signal` aborts when the
   * slot is released or lost. Errors thrown are reported as `callbackError` events.
   *
   * The signal's reason says why: TENURE_CLOSED with `details.reason` `'handover'` (a new table
   * gave the slot to another member: routine) or `'closed'` (this manager was closed);
   * TENURE_SLOT_LOST (its key was deleted without this member releasing it);
   * TENURE_SESSION_EXPIRED (the member's session ended). The same reason is passed to `released`.
   */
  acquired?: (slot: number, token: number, signal: AbortSignal) => void | Promise<void>;
  /** Called when this member stops owning a slot (after its signal aborted); may return a promise to drain. */
  released?: (slot: number, reason: unknown) => void | Promise<void>;
  /**
   * Events an `observe()` iterator buffers before dropping the oldest (counted in `skipped`).
   * @default 2 × slotCount — a whole acquire/release cycle of every slot fits.
   */
  bufferSize?: number;
}

/** Defaults of {@link ShardManagerOptions}. */
export const SHARD_DEFAULTS = Object.freeze({
  slotCount: 1024,
  settleMs: 200,
  maxSettleMs: 2000,
  drainTimeoutMs: 1000,
});

/** A change of this member's ownership. */
export type ShardEvent =
  | {
      readonly type: 'acquired';
      readonly slot: number;
      readonly token: number;
      readonly signal: AbortSignal;
      readonly skipped: number;
    }
  | { readonly type: 'released'; readonly slot: number; readonly reason: unknown; readonly skipped: number };

/** Events of a {@link ShardManager}. */
export interface ShardManagerEvents {
  acquired: [slot: number, token: number, signal: AbortSignal];
  released: [slot: number, reason: unknown];
  /** A new table was seen (`revision` is its mod revision). */
  table: [revision: number];
  /** A store call failed; the manager retries. */
  storeError: [error: unknown];
  /** A user callback threw. */
  callbackError: [error: unknown, slot: number];
}

/** Counters of the store transactions a manager ran, for benchmarks and dashboards. */
export interface ShardStats {
  /** Committed transactions that created slot keys. */
  claimTxns: number;
  /** Claim transactions whose compares failed (a stale view; nothing written). */
  failedClaimTxns: number;
  /** Committed transactions that deleted slot keys. */
  releaseTxns: number;
  /** Tables this member wrote. */
  tableWrites: number;
  /** Slots claimed and released. */
  slotsClaimed: number;
  slotsReleased: number;
}

/** The manager's life. */
export type ShardManagerStatus = 'running' | 'closing' | 'closed' | 'lost';

type ResolvedOptions = Required<Omit<ShardManagerOptions, 'acquired' | 'released'>> &
  Pick<ShardManagerOptions, 'acquired' | 'released'>;

/**
 * Takes part in a group's slot ownership as the given member.
 *
 * @example
 * ```ts
 * const membership = await Membership.open(store, 'orders');
 * const member = await membership.join(session, { id: 'w1', weight: 2 });
 * await using shards = await ShardManager.start(membership, member, {
 *   acquired: (slot, token, signal) => startConsumer(slot, token, signal),
 *   released: (slot) => stopConsumer(slot),
 * });
 * shards.ownerOf('order:42'); // 'w1', another member's id, or undefined while it moves
 * ```
 */
export class ShardManager extends SlotView<ShardManagerEvents> {
  /** The member this manager acts for. */
  readonly member: Member;
  /** The group's membership view. */
  readonly membership: Membership;
  /** Transaction counters. */
  readonly stats: ShardStats = {
    claimTxns: 0,
    failedClaimTxns: 0,
    releaseTxns: 0,
    tableWrites: 0,
    slotsClaimed: 0,
    slotsReleased: 0,
  };
  readonly #o: ResolvedOptions;
  /** Aborts when the manager stops: the public signal, and the watch's. */
  readonly #ac = new AbortController();
  /** Aborts when the manager closes or stops: cuts the reconciler's backoffs short. */
  readonly #work = new AbortController();
  readonly #buffers = new EventBuffers<ShardEvent>();
  readonly #planner: ShardPlanner;
  readonly #reconciler: ShardReconciler;
  #revision: number;
  #status: ShardManagerStatus = 'running';
  #closing: Promise<void> | undefined;
  readonly #onMembers = () => this.#planner.schedule();
  readonly #onSessionEnd = () => this.#loseAll(this.member.session.signal.reason);

  private constructor(
    membership: Membership,
    member: Member,
    map: SlotMap,
    o: ResolvedOptions,
    kvs: readonly KeyValue[],
    revision: number,
  ) {
    super(map);
    this.membership = membership;
    this.member = member;
    this.#o = o;
    this.#revision = revision;
    this.#planner = new ShardPlanner({
      membership,
      member,
      map,
      stats: this.stats,
      settleMs: o.settleMs,
      maxSettleMs: o.maxSettleMs,
      onTable: (rev) => {
        this.emit('table', rev);
        this.#reconciler.reconcile();
      },
      onStoreError: (err) => this.emit('storeError', err),
    });
    this.#reconciler = new ShardReconciler({
      member,
      map,
      stats: this.stats,
      drainTimeoutMs: o.drainTimeoutMs,
      acquired: o.acquired,
      released: o.released,
      signal: this.#work.signal,
      running: () => this.#status === 'running',
      notify: {
        acquired: (slot, token, signal) => {
          this.#buffers.push({ type: 'acquired', slot, token, signal, skipped: 0 });
          this.emit('acquired', slot, token, signal);
        },
        released: (slot, reason) => {
          this.#buffers.push({ type: 'released', slot, reason, skipped: 0 });
          this.emit('released', slot, reason);
        },
        storeError: (err) => this.emit('storeError', err),
        callbackError: (err, slot) => this.emit('callbackError', err, slot),
      },
    });
    this.#load(kvs);
    membership.on('change', this.#onMembers);
    const session = member.session;
    if (session.signal.aborted) queueMicrotask(this.#onSessionEnd);
    else session.signal.addEventListener('abort', this.#onSessionEnd, { once: true });
    void this.#watch();
    this.#planner.schedule();
    this.#reconciler.reconcile();
  }

  /**
   * Starts taking part: reads the table and slot keys, then claims this member's slots as the
   * table gives them.
   * @throws TENURE_INVALID_ARGUMENT for a bad option (named), or a member of another group/store.
   */
  static async start(
    membership: Membership,
    member: Member,
    options: ShardManagerOptions = {},
  ): Promise<ShardManager> {
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    if (member.session.store !== membership.store)
      throw invalidArgument('member', 'must belong to the membership’s store');
    if (member.status !== 'held')
      throw invalidArgument('member', `must be a live member (status ${member.status})`);
    const slotCount = checkSlotCount(options.slotCount ?? SHARD_DEFAULTS.slotCount);
    const ms = (name: keyof ShardManagerOptions, def: number, min: number) => {
      const v = (options[name] as number | undefined) ?? def;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
        throw invalidArgument(
          `options.${name}`,
          `must be a number of milliseconds ≥ ${min}, got ${String(v)}`,
        );
      return v;
    };
    const settleMs = ms('settleMs', SHARD_DEFAULTS.settleMs, 0);
    const maxSettleMs = ms('maxSettleMs', Math.max(SHARD_DEFAULTS.maxSettleMs, settleMs), 0);
    if (maxSettleMs < settleMs)
      throw invalidArgument('options.maxSettleMs', `must be ≥ options.settleMs (${settleMs})`);
    const drainTimeoutMs = ms('drainTimeoutMs', SHARD_DEFAULTS.drainTimeoutMs, 0);
    const bufferSize = options.bufferSize ?? 2 * slotCount;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1)
      throw invalidArgument('options.bufferSize', `must be an integer ≥ 1, got ${String(bufferSize)}`);
    for (const name of ['acquired', 'released'] as const)
      if (options[name] !== undefined && typeof options[name] !== 'function')
        throw invalidArgument(`options.${name}`, 'must be a function');
    const map = new SlotMap(membership.group, slotCount);
    const read = await membership.store.range(map.prefix);
    return new ShardManager(
      membership,
      member,
      map,
      {
        slotCount,
        settleMs,
        maxSettleMs,
        drainTimeoutMs,
        bufferSize,
        acquired: options.acquired,
        released: options.released,
      },
      read.kvs,
      read.revision,
    );
  }

  /** Where the manager is in its life. */
  get status(): ShardManagerStatus {
    return this.#status;
  }

  /** Aborts when the manager stops (closed, or its session was lost). */
  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  /** The slots this member owns now, with their fencing tokens. */
  owned(): ReadonlyMap<number, number> {
    return new Map([...this.#reconciler.owned].map(([slot, o]) => [slot, o.token]));
  }

  /** The slot's signal if this member owns it (aborts when it stops owning it). */
  signalOf(slot: number): AbortSignal | undefined {
    return this.#reconciler.owned.get(slot)?.ac.signal;
  }

  /** True when this member holds every slot the table gives it and none other. */
  get settled(): boolean {
    return this.#reconciler.settled;
  }

  /**
   * An async iterator of this member's acquisitions and releases from now on (with
   * `initial: true`, first an `acquired` for every slot owned now). Never blocks the manager:
   * a consumer that falls `bufferSize` events behind loses the oldest (counted in `skipped`);
   * {@link ShardManager.owned} is always exact.
   */
  observe(options: { signal?: AbortSignal; initial?: boolean } = {}): ObservedIterator<ShardEvent> {
    checkSignal(options.signal, 'options.signal');
    const initial: ShardEvent[] = options.initial
      ? [...this.#reconciler.owned].map(([slot, o]) => ({
          type: 'acquired',
          slot,
          token: o.token,
          signal: o.ac.signal,
          skipped: 0,
        }))
      : [];
    return this.#buffers.subscribe(
      this.#o.bufferSize,
      options.signal,
      (e, skipped) => ({ ...e, skipped }),
      initial,
    );
  }

  /** Adopts a read of the whole group (the first read, or a resync). */
  #load(kvs: readonly KeyValue[]): void {
    const { table, errors } = this.slotMap.load(kvs);
    for (const err of errors) this.emit('storeError', err);
    if (table !== undefined) this.emit('table', table);
  }

  #apply(batch: WatchBatch): void {
    for (const e of batch.events) {
      if (e.type === 'put') {
        try {
          const change = this.slotMap.see(e.kv);
          if (change !== undefined && 'table' in change) this.emit('table', change.table);
        } catch (err) {
          this.emit('storeError', err);
        }
        continue;
      }
      const slot = this.slotMap.forget(e.kv);
      if (slot !== undefined) this.#reconciler.keyDeleted(slot, e.kv.modRevision);
    }
    this.#revision = Math.max(this.#revision, batch.revision);
    this.#reconciler.reconcile();
  }

  async #watch(): Promise<void> {
    const store = this.membership.store;
    await followPrefix(store, this.slotMap.prefix, this.#ac.signal, this.member.session.clock, {
      revision: () => this.#revision,
      apply: (batch) => this.#apply(batch),
      resync: async () => {
        const read = await store.range(this.slotMap.prefix);
        this.#load(read.kvs);
        this.#revision = read.revision;
        this.#reconciler.reconcile();
      },
      onError: (err) => this.emit('storeError', err),
    });
  }

  #loseAll(reason: unknown): void {
    if (this.#status === 'closed' || this.#status === 'lost') return;
    this.#status = 'lost';
    this.#reconciler.loseAll(reason);
    this.#stop(reason);
  }

  #stop(reason: unknown): void {
    this.#planner.stop();
    this.membership.off('change', this.#onMembers);
    this.member.session.signal.removeEventListener('abort', this.#onSessionEnd);
    this.#work.abort(reason);
    this.#ac.abort(reason);
    this.#buffers.endAll();
  }

  /**
   * Leaves gracefully: aborts every slot's signal, waits for the `released` callbacks (up to
   * `drainTimeoutMs`), deletes the slot keys in batched transactions, then leaves the membership,
   * so the others take the slots over within a plan (`settleMs`) instead of a lease ttl. A
   * release that is backing off after a store error is cut short: each batch of keys gets one
   * more attempt, and the lease's expiry removes whatever the store did not delete. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#status === 'running') {
        this.#status = 'closing';
        this.#planner.stop();
        const reason = new TenureError('TENURE_CLOSED', 'the shard manager was closed', {
          details: { reason: 'closed' },
        });
        this.#work.abort(reason);
        await this.#reconciler.idle.catch(() => undefined);
        await this.#reconciler.releaseAll(reason);
        this.#status = 'closed';
        this.#stop(reason);
      }
      await this.member.close();
    })();
    return this.#closing;
  }

  /**
   * Leaves gracefully, as `close()` does (slots drained and released, then the membership left),
   * when an `await using` declaration leaves its scope. Idempotent.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
