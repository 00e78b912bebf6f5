/**
 * The half of a ShardManager that decides when, and which, table to write. A membership change is
 * planned only once the membership has been quiet for `settleMs` (or after `maxSettleMs` of
 * changes), and only by the member with the smallest id; the others check back after
 * `2 × settleMs + 50` in case it cannot. The table is replaced by compare-and-swap on its mod
 * revision, so of two planners at most one writes each table; the loser re-reads and re-plans.
 * Every timer runs on the member's session clock.
 * @internal
 */
import type { Timer } from '../../clock.js';
import type { Member, Membership } from './membership.js';
import { encodeTable } from './shard-layout.js';
import { nextTable, sameMembers, type Participant } from './shard-table.js';
import type { ShardStats } from './shards.js';
import type { SlotMap } from './slot-map.js';

/** What a {@link ShardPlanner} needs from its manager. */
export interface ShardPlannerContext {
  readonly membership: Membership;
  readonly member: Member;
  readonly map: SlotMap;
  readonly stats: ShardStats;
  readonly settleMs: number;
  readonly maxSettleMs: number;
  /** A table was written by this member (the map has it already) or learnt from a failed CAS. */
  onTable(revision: number): void;
  onStoreError(error: unknown): void;
}

/** @internal Plans the group's next table for one member. */
export class ShardPlanner {
  readonly #c: ShardPlannerContext;
  #timer: Timer | undefined;
  #firstChangeAt: number | undefined;
  #stopped = false;

  constructor(context: ShardPlannerContext) {
    this.#c = context;
  }

  get #clock() {
    return this.#c.member.session.clock;
  }

  /** The membership changed (or a plan lost its CAS): plan once it has been quiet for settleMs. */
  schedule(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    this.#firstChangeAt ??= now;
    const { settleMs, maxSettleMs } = this.#c;
    const wait = Math.max(0, Math.min(settleMs, this.#firstChangeAt + maxSettleMs - now));
    this.#setTimer(() => void this.#plan(false), wait);
  }

  /** Cancels the pending plan; nothing is planned any more. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #setTimer(fn: () => void, ms: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(fn, ms);
  }

  async #plan(backup: boolean): Promise<void> {
    this.#timer = undefined;
    this.#firstChangeAt = undefined;
    if (this.#stopped) return;
    const { membership, member, map } = this.#c;
    const live: Participant[] = membership.members().map((m) => ({ id: m.id, weight: m.weight }));
    const table = map.table;
    if (live.length === 0 || sameMembers(table, live)) return;
    if (table !== undefined && table.membersRevision > membership.revision) return; // our view is older
    if (!backup && live[0]!.id !== member.id) {
      // The member with the smallest id plans; the others check back later in case it cannot.
      this.#setTimer(() => void this.#plan(true), 2 * this.#c.settleMs + 50);
      return;
    }
    try {
      const next = nextTable(table, live, map.slotCount);
      const membersRevision = membership.revision;
      const res = await membership.store.txn({
        compare: [{ key: map.tableKey, target: 'modRevision', op: '=', value: table?.modRevision ?? 0 }],
        success: [{ type: 'put', key: map.tableKey, value: encodeTable(next, membersRevision) }],
        failure: [{ type: 'get', key: map.tableKey }],
      });
      if (res.succeeded) {
        this.#c.stats.tableWrites++;
        map.recordTable(next, membersRevision, res.revision);
        this.#c.onTable(res.revision);
      } else {
        const got = res.results[0];
        if (got?.type === 'get')
          for (const kv of got.kvs) {
            const change = map.see(kv);
            if (change !== undefined && 'table' in change) this.#c.onTable(change.table);
          }
        this.schedule(); // someone else planned first: check theirs against our view
      }
    } catch (err) {
      this.#c.onStoreError(err);
      this.schedule();
    }
  }
}
