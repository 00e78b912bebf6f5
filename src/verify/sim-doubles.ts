/**
 * Recipes broken on purpose, for the simulation's negative controls: each one leaves out the one
 * thing that makes its real counterpart safe, so a checker that passes their histories does not
 * work. They are test doubles, small and separate from the real recipes (which have no unsafe
 * option). Never use them for anything else.
 */
import type { Clock, Timer } from '../clock.js';
import { TenureError } from '../errors.js';
import { assignSlots } from '../hashing/index.js';
import type { Membership } from '../recipes/index.js';
import type { LeaseId, Store } from '../store/types.js';

/**
 * A session without the client-side deadline: it learns that its lease is gone only when a
 * keepalive is refused (`TENURE_LEASE_NOT_FOUND`), so its signal fires after the store has ended
 * the lease whenever keepalives are lost for a ttl (the real Session counts the ttl itself).
 */
export class NoDeadlineSession {
  readonly #ac = new AbortController();
  #timer: Timer | undefined;

  private constructor(
    readonly store: Store,
    readonly lease: LeaseId,
    readonly clock: Clock,
    readonly intervalMs: number,
  ) {
    this.#beatLater(intervalMs);
  }

  /** Grants the lease: the same call the real Session makes. */
  static async create(store: Store, ttlMs: number, clock: Clock): Promise<NoDeadlineSession> {
    const lease = await store.grant(ttlMs);
    return new NoDeadlineSession(store, lease.id, clock, ttlMs / 3);
  }

  /** Aborts when a keepalive was refused, or on close. */
  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  #beatLater(ms: number): void {
    this.#timer = this.clock.setTimeout(() => void this.#beat(), ms);
  }

  async #beat(): Promise<void> {
    if (this.#ac.signal.aborted) return;
    try {
      await this.store.keepAlive(this.lease);
      this.#beatLater(this.intervalMs);
    } catch (err) {
      if (err instanceof TenureError && err.code === 'TENURE_LEASE_NOT_FOUND')
        this.#ac.abort(new TenureError('TENURE_SESSION_EXPIRED', 'the store refused a keepalive'));
      else this.#beatLater(this.intervalMs / 4);
    }
  }

  /** Stops the keepalives and revokes the lease. Idempotent. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    if (this.#ac.signal.aborted) return;
    this.#ac.abort(new TenureError('TENURE_CLOSED', 'closed'));
    await this.store.revoke(this.lease);
  }
}

/**
 * An election without the revision compare: a candidate reads the leader key and, when nobody
 * holds it, writes its own value with a plain put (the real Election creates its key only if its
 * create revision is 0, and orders candidates by create revision). Two candidates that both read
 * an empty key both believe they lead.
 */
export class UncomparedElection {
  readonly #key: string;

  constructor(
    readonly store: Store,
    name: string,
  ) {
    this.#key = `uncompared-election/${name}`;
  }

  /**
   * Waits (polling every `pollMs` on `clock`) until the leader key is empty, then writes it.
   * @returns the term: the revision of the put.
   */
  async campaign(
    value: string,
    lease: LeaseId,
    clock: Clock,
    signal: AbortSignal,
    pollMs = 15,
  ): Promise<number> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if ((await this.store.get(this.#key)) === undefined) return this.store.put(this.#key, value, { lease });
      await new Promise<void>((r) => clock.setTimeout(r, pollMs));
    }
  }

  /** Deletes the leader key if it still holds `value`. */
  async resign(value: string): Promise<void> {
    const kv = await this.store.get(this.#key);
    if (kv !== undefined && new TextDecoder().decode(kv.value) === value) await this.store.delete(this.#key);
  }
}

/**
 * Slot ownership computed by each member from its own view of the membership alone: no shared
 * table, no previous table, no claim in the store. A member owns the slots its table gives it
 * (the real ShardManager owns a slot only while its put-if-absent slot key exists, and moves
 * slots from a committed table computed from the previous one). Members whose views differ for
 * a moment own the same slot.
 */
export function slotsFromView(membership: Membership, id: string, slotCount: number): number[] {
  const live = membership.members().map((m) => ({ node: m.id, weight: m.weight }));
  if (live.length === 0) return [];
  const table = assignSlots(live, { slotCount });
  const me = table.nodes.indexOf(id);
  const mine: number[] = [];
  if (me < 0) return mine;
  for (let slot = 0; slot < slotCount; slot++) if (table.owners[slot] === me) mine.push(slot);
  return mine;
}
