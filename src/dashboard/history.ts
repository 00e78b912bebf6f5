/**
 * What the dashboard shows of the past: kept by the server from the read model's changes and
 * events, so that a page opened (or reloaded) late sees the same history as one open from the
 * start. Bounded: every list keeps its latest entries only.
 *
 * - failovers: each leader change after another, with its duration and how the old leader went;
 * - phi: each member's published phi over time (a sparkline's points);
 * - members: who joined and who departed, so that departed members are shown as such;
 * - slot moves: how many slots moved after each membership change, and which change it was;
 * - when the store was last read (shown while it is unreachable).
 */
import type { FleetFollower } from '../inspect/follow.js';
import type { FleetEvent, FleetSnapshot } from '../inspect/model.js';

/** One failover, for the chart of failover durations over time. */
export interface FailoverPoint {
  /** Wall-clock time (ms since epoch) the new leader was seen. */
  readonly at: number;
  readonly election: string;
  readonly term: number;
  readonly value: string;
  readonly failoverMs: number;
  readonly departure: 'expired' | 'let-go' | undefined;
}

/** A member seen by this dashboard, present or departed. */
export interface MemberRecord {
  readonly group: string;
  readonly id: string;
  /** Wall-clock time it was first seen. */
  readonly joinedAt: number;
  /** Wall-clock time it was seen gone (undefined while present). */
  departedAt: number | undefined;
}

/** Slots moved after one membership change. */
export interface SlotMovePoint {
  readonly at: number;
  readonly group: string;
  readonly moved: number;
  readonly slotCount: number;
  /** The membership change it followed (`w4 joined`, `w1 left`), if one came shortly before. */
  readonly cause: string | undefined;
}

/** The history sent to the page with each snapshot. */
export interface FleetHistoryView {
  readonly failovers: readonly FailoverPoint[];
  /** Per member (`group/id`): [wall-clock ms, phi] points, oldest first. */
  readonly phi: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  readonly members: readonly MemberRecord[];
  readonly slotMoves: readonly SlotMovePoint[];
}

/** Limits of {@link FleetHistory}. */
export const HISTORY_LIMITS = Object.freeze({
  failovers: 100,
  /** Points per member's phi line: two minutes at the demo's rate of change. */
  phiPoints: 120,
  /** Members remembered (present and departed). */
  members: 100,
  slotMoves: 50,
  /** A slot move within this long of a membership change of its group is attributed to it. */
  causeWindowMs: 30_000,
});

/** The dashboard's memory of the fleet's past, fed by a {@link FleetFollower}. */
export class FleetHistory {
  readonly #failovers: FailoverPoint[] = [];
  readonly #phi = new Map<string, [number, number][]>();
  readonly #members = new Map<string, MemberRecord>();
  readonly #slotMoves: SlotMovePoint[] = [];
  /** The latest membership change per group, for attributing slot moves. */
  readonly #lastChange = new Map<string, { at: number; text: string }>();
  #readAt: number | undefined;
  readonly #follower: FleetFollower;
  readonly #onChange = (s: FleetSnapshot) => this.#changed(s);
  readonly #onEvent = (e: FleetEvent) => this.#event(e);

  constructor(follower: FleetFollower) {
    this.#follower = follower;
    follower.on('change', this.#onChange);
    follower.on('event', this.#onEvent);
    if (follower.ready) this.#changed(follower.snapshot());
  }

  /** The history as sent to the page. */
  view(): FleetHistoryView {
    return {
      failovers: this.#failovers,
      phi: Object.fromEntries(this.#phi),
      members: [...this.#members.values()],
      slotMoves: this.#slotMoves,
    };
  }

  /**
   * Wall-clock time of the last successful read of the store (undefined before the first): kept
   * out of {@link view}, which would otherwise change at every lease look.
   */
  get readAt(): number | undefined {
    return this.#readAt;
  }

  #changed(s: FleetSnapshot): void {
    const now = Date.now();
    this.#readAt = now;
    const present = new Set<string>();
    for (const m of s.members) {
      const key = `${m.group}/${m.id}`;
      present.add(key);
      const known = this.#members.get(key);
      if (!known) this.#remember(key, { group: m.group, id: m.id, joinedAt: now, departedAt: undefined });
      else if (known.departedAt !== undefined) {
        // Back after leaving (a new session under the same id): present again.
        this.#members.delete(key);
        this.#remember(key, { ...known, departedAt: undefined });
      }
      if (m.phi !== undefined) {
        let points = this.#phi.get(key);
        if (!points) {
          if (this.#phi.size >= HISTORY_LIMITS.members) continue;
          points = [];
          this.#phi.set(key, points);
        }
        const last = points.at(-1);
        // A point per change: an unchanged fleet sends the page nothing new.
        if (last?.[1] !== m.phi) points.push([now, m.phi]);
        if (points.length > HISTORY_LIMITS.phiPoints)
          points.splice(0, points.length - HISTORY_LIMITS.phiPoints);
      }
    }
    for (const [key, record] of this.#members)
      if (!present.has(key) && record.departedAt === undefined) record.departedAt = now;
    // Phi lines of members gone from memory are dropped.
    for (const key of this.#phi.keys()) if (!this.#members.has(key)) this.#phi.delete(key);
  }

  #remember(key: string, record: MemberRecord): void {
    this.#members.set(key, record);
    if (this.#members.size <= HISTORY_LIMITS.members) return;
    // Forget the longest departed first, then the oldest.
    const departed = [...this.#members].filter(([, r]) => r.departedAt !== undefined);
    const victim = (departed.length > 0 ? departed : [...this.#members])[0]![0];
    this.#members.delete(victim);
    this.#phi.delete(victim);
  }

  #event(e: FleetEvent): void {
    if (e.kind === 'leader' && e.failoverMs !== undefined) {
      push(
        this.#failovers,
        {
          at: e.at,
          election: e.name,
          term: e.term ?? 0,
          value: e.value ?? '',
          failoverMs: e.failoverMs,
          departure: e.departure,
        },
        HISTORY_LIMITS.failovers,
      );
    } else if (e.kind === 'member-join' || e.kind === 'member-leave') {
      this.#lastChange.set(e.name, {
        at: e.at,
        text: `${e.value ?? '?'} ${e.kind === 'member-join' ? 'joined' : 'left'}`,
      });
    } else if (e.kind === 'slots' && e.moved !== undefined) {
      const change = this.#lastChange.get(e.name);
      push(
        this.#slotMoves,
        {
          at: e.at,
          group: e.name,
          moved: e.moved,
          slotCount: e.slotCount ?? 0,
          cause: change && e.at - change.at <= HISTORY_LIMITS.causeWindowMs ? change.text : undefined,
        },
        HISTORY_LIMITS.slotMoves,
      );
    }
  }

  /** Stops recording. Idempotent. */
  close(): void {
    this.#follower.off('change', this.#onChange);
    this.#follower.off('event', this.#onEvent);
  }
}

function push<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}
