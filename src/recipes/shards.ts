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
 */
import type { Timer } from '../clock.js';
import { TenureError, invalidArgument, isTenureError } from '../errors.js';
import type { KeyValue, Op, WatchBatch } from '../store/types.js';
import { checkSignal } from '../store/validate.js';
import { EventBuffers, type ObservedIterator } from './event-buffer.js';
import { followPrefix } from './follow-prefix.js';
import type { Member, Membership } from './membership.js';
import { encodeTable, nextTable, sameMembers, type Participant } from './shard-table.js';
import { checkSlotCount, SlotMap, SlotView } from './slot-map.js';
import { sleep } from '../sleep.js';

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

const MAX_BATCH = 128;

type ResolvedOptions = Required<Omit<ShardManagerOptions, 'acquired' | 'released'>> &
  Pick<ShardManagerOptions, 'acquired' | 'released'>;

interface Owned {
  readonly token: number;
  readonly ac: AbortController;
}

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
  readonly #ac = new AbortController();
  readonly #buffers = new EventBuffers<ShardEvent>();
  readonly #owned = new Map<number, Owned>();
  #revision: number;
  #status: ShardManagerStatus = 'running';
  #reconciling = false;
  #again = false;
  #idle: Promise<void> = Promise.resolve();
  #planTimer: Timer | undefined;
  #firstChangeAt: number | undefined;
  #closing: Promise<void> | undefined;
  readonly #onMembers = () => this.#schedulePlan();
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
    for (const kv of kvs) this.#see(kv);
    membership.on('change', this.#onMembers);
    const session = member.session;
    if (session.signal.aborted) queueMicrotask(this.#onSessionEnd);
    else session.signal.addEventListener('abort', this.#onSessionEnd, { once: true });
    void this.#watch();
    this.#schedulePlan();
    this.#reconcile();
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
    return new Map([...this.#owned].map(([slot, o]) => [slot, o.token]));
  }

  /** The slot's signal if this member owns it (aborts when it stops owning it). */
  signalOf(slot: number): AbortSignal | undefined {
    return this.#owned.get(slot)?.ac.signal;
  }

  /** True when this member holds every slot the table gives it and none other. */
  get settled(): boolean {
    const t = this.slotMap.table;
    if (t === undefined) return false;
    const me = t.nodes.indexOf(this.member.id);
    for (let s = 0; s < this.slotCount; s++) if (this.#owned.has(s) !== (t.owners[s] === me)) return false;
    return true;
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
      ? [...this.#owned].map(([slot, o]) => ({
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

  /** Records a key seen in the store (from the initial read, a watch, or a failed txn's reads). */
  #see(kv: KeyValue): void {
    try {
      const change = this.slotMap.see(kv);
      if (change !== undefined && 'table' in change) this.emit('table', change.table);
    } catch (err) {
      this.emit('storeError', err);
    }
  }

  #apply(batch: WatchBatch): void {
    for (const e of batch.events) {
      if (e.type === 'put') {
        this.#see(e.kv);
        continue;
      }
      const slot = this.slotMap.forget(e.kv);
      if (slot === undefined) continue;
      const mine = this.#owned.get(slot);
      if (mine !== undefined && mine.token < e.kv.modRevision) {
        // Our key vanished without our release: the lease ended (the session's signal normally
        // fires first) or someone deleted it by hand. Stop at once.
        this.#drop(
          slot,
          new TenureError(
            'TENURE_LOCK_LOST',
            `slot ${slot} of ${this.membership.group} was lost: its key was deleted`,
          ),
        );
      }
    }
    this.#revision = Math.max(this.#revision, batch.revision);
    this.#reconcile();
  }

  async #watch(): Promise<void> {
    const store = this.membership.store;
    await followPrefix(store, this.slotMap.prefix, this.#ac.signal, {
      revision: () => this.#revision,
      apply: (batch) => this.#apply(batch),
      resync: async () => {
        const read = await store.range(this.slotMap.prefix);
        this.slotMap.holders.clear();
        for (const kv of read.kvs) this.#see(kv);
        this.#revision = read.revision;
        this.#reconcile();
      },
      onError: (err) => this.emit('storeError', err),
    });
  }

  // ---- planning: writing the next table ----

  #schedulePlan(): void {
    if (this.#status !== 'running') return;
    const clock = this.member.session.clock;
    const now = clock.now();
    this.#firstChangeAt ??= now;
    const wait = Math.max(0, Math.min(this.#o.settleMs, this.#firstChangeAt + this.#o.maxSettleMs - now));
    if (this.#planTimer !== undefined) clock.clearTimeout(this.#planTimer);
    this.#planTimer = clock.setTimeout(() => void this.#plan(false), wait);
  }

  async #plan(backup: boolean): Promise<void> {
    this.#planTimer = undefined;
    this.#firstChangeAt = undefined;
    if (this.#status !== 'running') return;
    const live: Participant[] = this.membership.members().map((m) => ({ id: m.id, weight: m.weight }));
    const table = this.slotMap.table;
    if (live.length === 0 || sameMembers(table, live)) return;
    if (table !== undefined && table.membersRevision > this.membership.revision) return; // our view is older
    if (!backup && live[0]!.id !== this.member.id) {
      // The member with the smallest id plans; the others check back later in case it cannot.
      this.#planTimer = this.member.session.clock.setTimeout(
        () => void this.#plan(true),
        2 * this.#o.settleMs + 50,
      );
      return;
    }
    try {
      const next = nextTable(table, live, this.slotCount);
      const res = await this.membership.store.txn({
        compare: [
          { key: this.slotMap.tableKey, target: 'modRevision', op: '=', value: table?.modRevision ?? 0 },
        ],
        success: [
          { type: 'put', key: this.slotMap.tableKey, value: encodeTable(next, this.membership.revision) },
        ],
        failure: [{ type: 'get', key: this.slotMap.tableKey }],
      });
      if (res.succeeded) {
        this.stats.tableWrites++;
        this.#see({
          key: this.slotMap.tableKey,
          value: new TextEncoder().encode(encodeTable(next, this.membership.revision)),
          createRevision: table?.modRevision ? 0 : res.revision,
          modRevision: res.revision,
          version: 0,
          lease: null,
        });
        this.#reconcile();
      } else {
        const got = res.results[0];
        if (got?.type === 'get') for (const kv of got.kvs) this.#see(kv);
        this.#schedulePlan(); // someone else planned first: check theirs against our view
      }
    } catch (err) {
      this.emit('storeError', err);
      this.#schedulePlan();
    }
  }

  // ---- reconciling: releasing and claiming slots to match the table ----

  #reconcile(): void {
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = true;
    this.#idle = (async () => {
      try {
        do {
          this.#again = false;
          await this.#reconcileOnce();
        } while (this.#again && this.#status === 'running');
      } catch (err) {
        this.emit('storeError', err);
        if (this.#status === 'running') setTimeout(() => this.#reconcile(), 100);
      } finally {
        this.#reconciling = false;
      }
    })();
  }

  async #reconcileOnce(): Promise<void> {
    if (this.#status !== 'running') return;
    const t = this.slotMap.table;
    if (t === undefined) return;
    const me = t.nodes.indexOf(this.member.id);
    const release: number[] = [];
    for (const slot of this.#owned.keys()) if (t.owners[slot] !== me) release.push(slot);
    if (release.length > 0)
      await this.#release(
        release,
        new TenureError('TENURE_CLOSED', `slots handed over to their new owners (table ${t.modRevision})`),
      );
    if (me < 0 || this.#status !== 'running') return;
    const claim: number[] = [];
    for (let s = 0; s < this.slotCount; s++)
      if (t.owners[s] === me && !this.#owned.has(s) && !this.slotMap.holders.has(s)) claim.push(s);
    for (let i = 0; i < claim.length && this.#status === 'running'; i += MAX_BATCH)
      await this.#claim(claim.slice(i, i + MAX_BATCH));
  }

  async #claim(slots: number[]): Promise<void> {
    const session = this.member.session;
    if (!session.alive) return;
    const store = this.membership.store;
    const keys = slots.map((s) => this.slotMap.slotKey(s));
    const res = await store.txn({
      compare: keys.map((key) => ({ key, target: 'createRevision', op: '=', value: 0 }) as const),
      success: keys.map((key): Op => ({ type: 'put', key, value: this.member.id, lease: session.lease })),
      failure: keys.map((key): Op => ({ type: 'get', key })),
    });
    if (!res.succeeded) {
      // Our view was stale: learn who holds what, and let the next round claim what is free.
      this.stats.failedClaimTxns++;
      for (const r of res.results) if (r.type === 'get') for (const kv of r.kvs) this.#see(kv);
      this.#again = true;
      return;
    }
    this.stats.claimTxns++;
    this.stats.slotsClaimed += slots.length;
    const token = res.revision;
    const enc = new TextEncoder().encode(this.member.id);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      this.#see({
        key: keys[i]!,
        value: enc,
        createRevision: token,
        modRevision: token,
        version: 1,
        lease: session.lease,
      });
      const ac = new AbortController();
      this.#owned.set(slot, { token, ac });
      // The session may have expired while the transaction was in flight.
      if (!session.alive) session.checkDeadline();
      if (session.signal.aborted) {
        this.#drop(slot, session.signal.reason);
        continue;
      }
      this.#buffers.push({ type: 'acquired', slot, token, signal: ac.signal, skipped: 0 });
      this.emit('acquired', slot, token, ac.signal);
      if (this.#o.acquired) {
        try {
          const p = this.#o.acquired(slot, token, ac.signal);
          if (p instanceof Promise) p.catch((err: unknown) => this.emit('callbackError', err, slot));
        } catch (err) {
          this.emit('callbackError', err, slot);
        }
      }
    }
  }

  /** Stops owning `slot` locally: aborts its signal and runs the callbacks. Returns the drain promise. */
  #drop(slot: number, reason: unknown): Promise<unknown> {
    const o = this.#owned.get(slot);
    if (o === undefined) return Promise.resolve();
    this.#owned.delete(slot);
    o.ac.abort(reason);
    this.stats.slotsReleased++;
    this.#buffers.push({ type: 'released', slot, reason, skipped: 0 });
    this.emit('released', slot, reason);
    if (!this.#o.released) return Promise.resolve();
    try {
      return Promise.resolve(this.#o.released(slot, reason)).catch((err: unknown) =>
        this.emit('callbackError', err, slot),
      );
    } catch (err) {
      this.emit('callbackError', err, slot);
      return Promise.resolve();
    }
  }

  /** Hands slots over: signals abort first, callbacks drain (bounded), then the keys go in batches. */
  async #release(slots: number[], reason: unknown): Promise<void> {
    const tokens = new Map(slots.map((s) => [s, this.#owned.get(s)!.token]));
    const drains = slots.map((s) => this.#drop(s, reason));
    if (drains.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(drains),
        new Promise((r) => (timer = setTimeout(r, this.#o.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    const store = this.membership.store;
    for (let i = 0; i < slots.length; i += MAX_BATCH) {
      const batch = slots.slice(i, i + MAX_BATCH);
      const keys = batch.map((s) => this.slotMap.slotKey(s));
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await store.txn({
            compare: batch.map(
              (s, j) =>
                ({ key: keys[j]!, target: 'createRevision', op: '=', value: tokens.get(s)! }) as const,
            ),
            success: keys.map((key): Op => ({ type: 'delete', key })),
          });
          if (res.succeeded) this.stats.releaseTxns++;
          else {
            // Some of these keys are already gone (lease expired): delete the rest one by one,
            // each only if it is still ours.
            for (let j = 0; j < batch.length; j++) {
              const r = await store.txn({
                compare: [
                  { key: keys[j]!, target: 'createRevision', op: '=', value: tokens.get(batch[j]!)! },
                ],
                success: [{ type: 'delete', key: keys[j]! }],
              });
              if (r.succeeded) this.stats.releaseTxns++;
            }
          }
          break;
        } catch (err) {
          this.emit('storeError', err);
          // Once the session is gone its lease's expiry removes the keys.
          if (!this.member.session.alive || isTenureError(err, 'TENURE_CLOSED') || attempt > 20) break;
          await sleep(Math.min(1000, 25 * 2 ** attempt));
        }
      }
    }
  }

  #loseAll(reason: unknown): void {
    if (this.#status === 'closed' || this.#status === 'lost') return;
    this.#status = 'lost';
    for (const slot of [...this.#owned.keys()]) void this.#drop(slot, reason);
    this.#stop(reason);
  }

  #stop(reason: unknown): void {
    if (this.#planTimer !== undefined) this.member.session.clock.clearTimeout(this.#planTimer);
    this.membership.off('change', this.#onMembers);
    this.member.session.signal.removeEventListener('abort', this.#onSessionEnd);
    this.#ac.abort(reason);
    this.#buffers.endAll();
  }

  /**
   * Leaves gracefully: aborts every slot's signal, waits for the `released` callbacks (up to
   * `drainTimeoutMs`), deletes the slot keys in batched transactions, then leaves the membership,
   * so the others take the slots over within a plan (`settleMs`) instead of a lease ttl.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#status === 'running') {
        this.#status = 'closing';
        if (this.#planTimer !== undefined) this.member.session.clock.clearTimeout(this.#planTimer);
        await this.#idle.catch(() => undefined);
        await this.#release(
          [...this.#owned.keys()],
          new TenureError('TENURE_CLOSED', 'the shard manager was closed'),
        );
        this.#status = 'closed';
        this.#stop(new TenureError('TENURE_CLOSED', 'the shard manager was closed'));
      }
      await this.member.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
