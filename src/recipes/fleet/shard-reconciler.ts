/**
 * The half of a ShardManager that makes this member's slot keys match the committed table: it
 * releases the slots the table gives to others (their signals abort first, the `released`
 * callbacks drain for up to `drainTimeoutMs`, then the keys are deleted) and claims the free slots
 * the table gives to it, in batched transactions of up to 128 slots. Claims are put-if-absent, so
 * a stale view only costs a failed transaction; releases compare the key's create revision, so
 * they never delete a later owner's key.
 *
 * Waits (the drain, a retry's backoff) run on the member's session clock; a backoff ends early
 * when the manager's work signal aborts (close), after which each remaining batch is tried once.
 * @internal
 */
import { TenureError, isTenureError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import type { Op } from '../../store/types.js';
import type { Member } from './membership.js';
import type { ShardManagerOptions, ShardStats } from './shards.js';
import type { SlotMap } from './slot-map.js';

const MAX_BATCH = 128;

/** Most attempts at one release batch (about 17 s of backoff in all). */
const MAX_RELEASE_ATTEMPTS = 22;

/** Pause before a reconcile round that failed is run again. */
const RECONCILE_RETRY_MS = 100;

/** A slot this member owns. */
export interface OwnedSlot {
  readonly token: number;
  readonly ac: AbortController;
}

/** What a {@link ShardReconciler} needs from its manager. */
export interface ShardReconcilerContext {
  readonly member: Member;
  readonly map: SlotMap;
  readonly stats: ShardStats;
  readonly drainTimeoutMs: number;
  readonly acquired: ShardManagerOptions['acquired'];
  readonly released: ShardManagerOptions['released'];
  /** Aborts when the manager closes or stops: backoffs end at once, and no batch is retried. */
  readonly signal: AbortSignal;
  /** Whether the manager still runs (claims and new rounds stop otherwise). */
  running(): boolean;
  /** Reports this member's ownership changes and failures (events, iterators). */
  notify: {
    acquired(slot: number, token: number, signal: AbortSignal): void;
    released(slot: number, reason: unknown): void;
    storeError(error: unknown): void;
    callbackError(error: unknown, slot: number): void;
  };
}

/** @internal Claims and releases one member's slots to match the table. */
export class ShardReconciler {
  readonly #c: ShardReconcilerContext;
  readonly #owned = new Map<number, OwnedSlot>();
  #reconciling = false;
  #again = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(context: ShardReconcilerContext) {
    this.#c = context;
  }

  /** The slots this member owns now. */
  get owned(): ReadonlyMap<number, OwnedSlot> {
    return this.#owned;
  }

  /** Settles when the current reconcile round (if any) has finished. */
  get idle(): Promise<void> {
    return this.#idle;
  }

  /** True when this member holds every slot the table gives it and none other. */
  get settled(): boolean {
    const t = this.#c.map.table;
    if (t === undefined) return false;
    const me = t.nodes.indexOf(this.#c.member.id);
    for (let s = 0; s < t.owners.length; s++) if (this.#owned.has(s) !== (t.owners[s] === me)) return false;
    return true;
  }

  /** Runs a round (or another after the current one): release and claim to match the table. */
  reconcile(): void {
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
        } while (this.#again && this.#c.running());
      } catch (err) {
        this.#c.notify.storeError(err);
        if (this.#c.running())
          void sleep(RECONCILE_RETRY_MS, {
            clock: this.#c.member.session.clock,
            signal: this.#c.signal,
          }).then(() => this.#c.running() && this.reconcile());
      } finally {
        this.#reconciling = false;
      }
    })();
  }

  /**
   * A slot key was deleted at `revision` (a watch's delete). If it was this member's key and this
   * member did not release it (the lease ended, or someone deleted it by hand), stop at once.
   */
  keyDeleted(slot: number, revision: number): void {
    const mine = this.#owned.get(slot);
    if (mine !== undefined && mine.token < revision)
      void this.#drop(
        slot,
        new TenureError(
          'TENURE_SLOT_LOST',
          `slot ${slot} of ${this.#c.map.group} was lost: its key was deleted`,
          {
            details: { slot, group: this.#c.map.group },
          },
        ),
      );
  }

  /** The session is gone: every slot is lost now, without waiting for anything. */
  loseAll(reason: unknown): void {
    for (const slot of [...this.#owned.keys()]) void this.#drop(slot, reason);
  }

  /** Releases every slot this member owns (see {@link ShardReconciler.reconcile} for how). */
  releaseAll(reason: unknown): Promise<void> {
    return this.#release([...this.#owned.keys()], reason);
  }

  async #reconcileOnce(): Promise<void> {
    if (!this.#c.running()) return;
    const t = this.#c.map.table;
    if (t === undefined) return;
    const me = t.nodes.indexOf(this.#c.member.id);
    const release: number[] = [];
    for (const slot of this.#owned.keys()) if (t.owners[slot] !== me) release.push(slot);
    if (release.length > 0)
      await this.#release(
        release,
        new TenureError('TENURE_CLOSED', `slots handed over to their new owners (table ${t.modRevision})`, {
          details: { reason: 'handover', table: t.modRevision },
        }),
      );
    if (me < 0 || !this.#c.running()) return;
    const claim: number[] = [];
    for (let s = 0; s < t.owners.length; s++)
      if (t.owners[s] === me && !this.#owned.has(s) && !this.#c.map.isHeld(s)) claim.push(s);
    for (let i = 0; i < claim.length && this.#c.running(); i += MAX_BATCH)
      await this.#claim(claim.slice(i, i + MAX_BATCH));
  }

  async #claim(slots: number[]): Promise<void> {
    const { member, map, stats } = this.#c;
    const session = member.session;
    if (!session.alive) return;
    const keys = slots.map((s) => map.slotKey(s));
    const res = await session.store.txn({
      compare: keys.map((key) => ({ key, target: 'createRevision', op: '=', value: 0 }) as const),
      success: keys.map((key): Op => ({ type: 'put', key, value: member.id, lease: session.lease })),
      failure: keys.map((key): Op => ({ type: 'get', key })),
    });
    if (!res.succeeded) {
      // Our view was stale: learn who holds what, and let the next round claim what is free.
      stats.failedClaimTxns++;
      for (const r of res.results) if (r.type === 'get') for (const kv of r.kvs) map.see(kv);
      this.#again = true;
      return;
    }
    stats.claimTxns++;
    stats.slotsClaimed += slots.length;
    const token = res.revision;
    for (const slot of slots) {
      map.recordClaim(slot, member.id, token);
      const ac = new AbortController();
      this.#owned.set(slot, { token, ac });
      // The session may have expired while the transaction was in flight.
      if (!session.alive) session.checkDeadline();
      if (session.signal.aborted) {
        void this.#drop(slot, session.signal.reason);
        continue;
      }
      this.#c.notify.acquired(slot, token, ac.signal);
      if (this.#c.acquired) {
        try {
          const p = this.#c.acquired(slot, token, ac.signal);
          if (p instanceof Promise) p.catch((err: unknown) => this.#c.notify.callbackError(err, slot));
        } catch (err) {
          this.#c.notify.callbackError(err, slot);
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
    this.#c.stats.slotsReleased++;
    this.#c.notify.released(slot, reason);
    if (!this.#c.released) return Promise.resolve();
    try {
      return Promise.resolve(this.#c.released(slot, reason)).catch((err: unknown) =>
        this.#c.notify.callbackError(err, slot),
      );
    } catch (err) {
      this.#c.notify.callbackError(err, slot);
      return Promise.resolve();
    }
  }

  /** Waits for the `released` callbacks' promises, at most drainTimeoutMs of the session clock. */
  async #drain(drains: Promise<unknown>[]): Promise<void> {
    if (drains.length === 0) return;
    const done = new AbortController();
    await Promise.race([
      Promise.all(drains).finally(() => done.abort()),
      sleep(this.#c.drainTimeoutMs, { clock: this.#c.member.session.clock, signal: done.signal }),
    ]);
    done.abort();
  }

  /** Hands slots over: signals abort first, callbacks drain (bounded), then the keys go in batches. */
  async #release(slots: number[], reason: unknown): Promise<void> {
    const { member, map, stats, signal } = this.#c;
    const session = member.session;
    const tokens = new Map(slots.map((s) => [s, this.#owned.get(s)!.token]));
    await this.#drain(slots.map((s) => this.#drop(s, reason)));
    for (let i = 0; i < slots.length; i += MAX_BATCH) {
      const batch = slots.slice(i, i + MAX_BATCH);
      const keys = batch.map((s) => map.slotKey(s));
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await session.store.txn({
            compare: batch.map(
              (s, j) =>
                ({ key: keys[j]!, target: 'createRevision', op: '=', value: tokens.get(s)! }) as const,
            ),
            success: keys.map((key): Op => ({ type: 'delete', key })),
          });
          if (res.succeeded) stats.releaseTxns++;
          else {
            // Some of these keys are already gone (lease expired): delete the rest one by one,
            // each only if it is still ours.
            for (let j = 0; j < batch.length; j++) {
              const r = await session.store.txn({
                compare: [
                  { key: keys[j]!, target: 'createRevision', op: '=', value: tokens.get(batch[j]!)! },
                ],
                success: [{ type: 'delete', key: keys[j]! }],
              });
              if (r.succeeded) stats.releaseTxns++;
            }
          }
          break;
        } catch (err) {
          this.#c.notify.storeError(err);
          // Once the session is gone its lease's expiry removes the keys; once the manager is
          // closing, each batch gets one attempt and the lease removes what is left.
          if (
            !session.alive ||
            isTenureError(err, 'TENURE_CLOSED') ||
            attempt >= MAX_RELEASE_ATTEMPTS ||
            signal.aborted
          )
            break;
          // Cut short by close: the batch then gets one last, immediate attempt.
          await sleep(Math.min(1000, 25 * 2 ** (attempt - 1)), { clock: session.clock, signal });
        }
      }
    }
  }
}
