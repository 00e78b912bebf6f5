/**
 * Everything the dashboard shows, as Prometheus metrics: computed from the read model of
 * inspect/ (a {@link FleetFollower}), so that any process that follows a store (the dashboard,
 * `tenure demo`, an application's own observer) exports the whole fleet's state without the
 * fleet's processes being instrumented. The processes' own view (is this process the leader,
 * its heartbeat latency, its lock waits as it measured them) is `instrument()`'s (tenure/metrics).
 *
 * Gauges are computed when scraped, from the latest snapshot and the follower's lease clock; a
 * thing that is gone (a departed member, a freed lock) has no series. Histograms and counters
 * are fed from the follower's changes: lock waits and holds are timed from the moment the
 * follower saw a queue entry appear to the moment it saw it hold the lock, and from then to its
 * deletion (within one watch delivery of the truth); failover durations are inspect/failover.ts's.
 *
 * Label values come from the store: each name label is capped (see metrics/label-cap.ts), and
 * `member` and `owner` values are given back when their member leaves.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { FleetFollower, SessionEnd } from '../inspect/follow.js';
import type { FleetEvent, FleetSnapshot } from '../inspect/model.js';
import type { Instrumentation } from '../metrics/index.js';
import { LabelCap, OVERFLOW_LABEL } from '../metrics/label-cap.js';

/** Options of {@link FleetMetrics}. */
export interface FleetMetricsOptions {
  /**
   * Distinct `member` (and slot `owner`) values admitted at once; later ones are reported as
   * `_other` until a member leaves.
   * @default 100 — one series per member is what a fleet panel needs; past a hundred members,
   * per-member series cost more than they show (use the group's totals).
   */
  maxMembers?: number;
}

/** Defaults of {@link FleetMetricsOptions}. */
export const FLEET_METRICS_DEFAULTS = Object.freeze({ maxMembers: 100 });

/** Failover durations, in seconds: from sub-second (a resignation) to minutes (a long ttl). */
const FAILOVER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120];
/** Lock waits and holds as a store observer sees them (its resolution is one watch delivery). */
export const LOCK_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/**
 * The metric names {@link FleetMetrics} registers (without the prefix), for documentation and
 * the shipped alert rules and Grafana dashboard (ops/), which a test checks against this list.
 */
export const FLEET_METRIC_NAMES = Object.freeze([
  'election_leader',
  'election_candidates',
  'election_leaderless_seconds',
  'election_ttl_seconds',
  'election_last_failover_seconds',
  'failover_seconds',
  'lock_holders',
  'lock_queue_length',
  'fleet_lock_wait_seconds',
  'fleet_lock_hold_seconds',
  'group_members',
  'member_phi',
  'member_suspicion',
  'group_slots',
  'group_slots_unowned',
  'group_slots_moving',
  'sessions',
  'sessions_ended_total',
  'member_labels',
]);

/** The waits of one lock, by {@link LOCK_BUCKETS} bucket, for the dashboard's distribution chart. */
export interface LockWaitDistribution {
  readonly lock: string;
  readonly kind: string;
  /** Waits per bucket: `counts[i]` waited at most `LOCK_BUCKETS[i]` and more than the bucket before; the last, longer. */
  readonly counts: readonly number[];
}

interface LockEntry {
  readonly labels: { readonly lock: string; readonly kind: string };
  readonly firstSeen: number;
  heldSince: number | undefined;
}

/**
 * The fleet's metrics, registered in `metrics.registry` and fed by `follower` until close().
 *
 * An election counts as **without a live leader** when it has no leader key, or when its
 * leader's lease has not been seen renewed for two thirds of its ttl (two heartbeats missed at
 * the default interval of ttl/3) plus the follower's `refreshMs` (how stale its view of leases
 * may be) plus the store's ttl granularity: a crashed leader's key stays in the store until its
 * lease expires, and this is how an observer tells it is gone. `election_leaderless_seconds`
 * then counts from the last sign of a live leader.
 */
export class FleetMetrics {
  readonly follower: FleetFollower;
  readonly metrics: Instrumentation;
  readonly #members: LabelCap;
  readonly #locks = new Map<string, LockEntry>();
  /**
   * Every election seen since the start (an election whose last candidate left has no key, yet
   * has no leader: it stays here, leaderless): its last live leader's lease ttl and last renewal
   * seen, the time since which it has had no leader key, and its latest failover.
   */
  readonly #elections = new Map<
    string,
    { ttlMs?: number; renewedAt?: number; noLeaderSince?: number; lastFailoverMs?: number }
  >();
  /** Member and owner label values in use at the last scrape, to give back those gone. */
  #inUse = new Set<string>();
  readonly #failover: Histogram<'election' | 'departure'>;
  readonly #lockWait: Histogram<'lock' | 'kind'>;
  readonly #lockHold: Histogram<'lock' | 'kind'>;
  readonly #sessionsEnded: Counter<'departure'>;
  readonly #gauges: Gauge<string>[] = [];
  readonly #counters: Counter<string>[] = [];
  readonly #onChange = (s: FleetSnapshot) => this.#changed(s);
  readonly #onEvent = (e: FleetEvent) => this.#event(e);
  readonly #onSessionEnd = (e: SessionEnd) => this.#sessionsEnded.inc({ departure: e.departure });
  #closed = false;
  readonly #waits = new Map<string, { lock: string; kind: string; counts: number[] }>();

  /**
   * @param prefix of every metric name @default 'tenure_' (the same as instrument()'s)
   * @throws TENURE_INVALID_ARGUMENT naming `maxMembers` unless it is a positive integer.
   */
  constructor(
    follower: FleetFollower,
    metrics: Instrumentation,
    options: FleetMetricsOptions = {},
    prefix = 'tenure_',
  ) {
    this.follower = follower;
    this.metrics = metrics;
    this.#members = new LabelCap(options.maxMembers ?? FLEET_METRICS_DEFAULTS.maxMembers);
    const registers = [metrics.registry];
    const p = prefix;
    const { election: electionCap, lock: lockCap, group: groupCap } = metrics.labels;
    const snap = () => (follower.ready ? follower.snapshot() : undefined);
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      fill: (set: (labels: Record<L, string>, value: number) => void, s: FleetSnapshot) => void,
    ) => {
      const g: Gauge<L> = new Gauge<L>({
        name: `${p}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          g.reset();
          const s = snap();
          if (s) fill((labels, value) => g.set(labels as never, value), s);
        },
      });
      this.#gauges.push(g as Gauge<string>);
      return g;
    };

    gauge(
      'election_leader',
      '1 for the member that leads the election (one series per leader)',
      ['election', 'member'],
      (set, s) => {
        for (const e of s.elections)
          if (e.leader) set({ election: electionCap.label(e.name), member: this.#member(e.leader.value) }, 1);
      },
    );
    gauge(
      'election_candidates',
      'Candidates in the election, the leader included',
      ['election'],
      (set, s) => {
        const counts = new Map([...this.#elections.keys()].map((name) => [name, 0]));
        for (const e of s.elections) counts.set(e.name, e.candidates.length);
        for (const [name, n] of counts) set({ election: electionCap.label(name) }, n);
      },
    );
    gauge(
      'election_leaderless_seconds',
      'Seconds since the election last had a live leader (0 while it has one); a leader whose lease has not been renewed for 2/3 of its ttl counts as gone',
      ['election'],
      (set, s) => {
        const now = follower.clock.now();
        const leases = new Map(s.elections.map((e) => [e.name, e.leader?.lease ?? null]));
        for (const name of this.#elections.keys()) {
          const since = this.#leaderlessAt(name, leases.get(name) ?? null, now);
          set(
            { election: electionCap.label(name) },
            since === undefined ? 0 : Math.max(0, now - since) / 1000,
          );
        }
      },
    );
    gauge(
      'election_ttl_seconds',
      "The lease ttl of the election's leader (the last one known, while it has none)",
      ['election'],
      (set) => {
        for (const [name, e] of this.#elections)
          if (e.ttlMs !== undefined) set({ election: electionCap.label(name) }, e.ttlMs / 1000);
      },
    );
    gauge(
      'election_last_failover_seconds',
      "The election's latest failover time (from the fault to the new leader acting, as estimated from the store)",
      ['election'],
      (set) => {
        for (const [name, e] of this.#elections)
          if (e.lastFailoverMs !== undefined)
            set({ election: electionCap.label(name) }, e.lastFailoverMs / 1000);
      },
    );
    gauge('lock_holders', 'Holders of a mutex, semaphore or read-write lock', ['lock', 'kind'], (set, s) => {
      for (const l of s.locks) set({ lock: lockCap.label(l.name), kind: l.kind }, l.holders.length);
    });
    gauge('lock_queue_length', 'Waiters queued behind the holders of a lock', ['lock', 'kind'], (set, s) => {
      for (const l of s.locks) set({ lock: lockCap.label(l.name), kind: l.kind }, l.waiters.length);
    });
    gauge('group_members', 'Members of a Membership group', ['group'], (set, s) => {
      const counts = new Map<string, number>();
      for (const m of s.members) counts.set(m.group, (counts.get(m.group) ?? 0) + 1);
      for (const [group, n] of counts) set({ group: groupCap.label(group) }, n);
    });
    gauge(
      'member_phi',
      "A member's phi, the highest that any peer of its heartbeat mesh publishes",
      ['group', 'member'],
      (set, s) => {
        for (const m of s.members)
          if (m.phi !== undefined) set({ group: groupCap.label(m.group), member: this.#member(m.id) }, m.phi);
      },
    );
    gauge(
      'member_suspicion',
      "Share of its lease's ttl a member's session has used since its last renewal seen (0 to 1)",
      ['group', 'member'],
      (set, s) => {
        for (const m of s.members)
          if (m.suspicion !== undefined)
            set({ group: groupCap.label(m.group), member: this.#member(m.id) }, m.suspicion);
      },
    );
    gauge('group_slots', 'Slots of a ShardManager group held by each owner', ['group', 'owner'], (set, s) => {
      for (const g of s.slots) {
        const counts = new Map<string, number>();
        for (const o of g.owners)
          if (o !== null) counts.set(this.#member(o), (counts.get(this.#member(o)) ?? 0) + 1);
        for (const [owner, n] of counts) set({ group: groupCap.label(g.name), owner }, n);
      }
    });
    gauge('group_slots_unowned', 'Slots of a ShardManager group that nobody holds', ['group'], (set, s) => {
      for (const g of s.slots)
        set({ group: groupCap.label(g.name) }, g.owners.filter((o) => o === null).length);
    });
    gauge(
      'group_slots_moving',
      'Slots of a ShardManager group not yet held by the owner its table assigns (moving)',
      ['group'],
      (set, s) => {
        for (const g of s.slots)
          set({ group: groupCap.label(g.name) }, g.owners.filter((o, i) => o !== g.planned[i]).length);
      },
    );
    gauge('sessions', 'Sessions (leases) that hold keys', [], (set, s) => set({}, s.sessions.length));
    gauge(
      'member_labels',
      "Member label values admitted ('in_use') and member names reported as _other beyond the cap ('overflowed')",
      ['what'],
      (set) => {
        set({ what: 'in_use' }, this.#members.size);
        set({ what: 'overflowed' }, this.#members.overflowed);
      },
    );

    this.#failover = new Histogram({
      name: `${p}failover_seconds`,
      help: "Failover time, from the fault to the new leader acting, as a store observer estimates it; departure: how the old leader went ('expired': crash, freeze, lost store; 'let-go': resigned or closed)",
      labelNames: ['election', 'departure'],
      buckets: FAILOVER_BUCKETS,
      registers,
    });
    this.#lockWait = new Histogram({
      name: `${p}fleet_lock_wait_seconds`,
      help: 'Time a queue entry waited before holding its lock, as a store observer saw it',
      labelNames: ['lock', 'kind'],
      buckets: [...LOCK_BUCKETS],
      registers,
    });
    this.#lockHold = new Histogram({
      name: `${p}fleet_lock_hold_seconds`,
      help: 'Time a lock was held, as a store observer saw it',
      labelNames: ['lock', 'kind'],
      buckets: [...LOCK_BUCKETS],
      registers,
    });
    this.#sessionsEnded = new Counter({
      name: `${p}sessions_ended_total`,
      help: "Sessions that held keys and ended: departure 'expired' (lost: their lease ran out) or 'let-go' (closed)",
      labelNames: ['departure'],
      registers,
    });
    this.#counters.push(this.#sessionsEnded as Counter<string>);
    // Both series exist from the start, so that increase() sees the first loss.
    this.#sessionsEnded.inc({ departure: 'expired' }, 0);
    this.#sessionsEnded.inc({ departure: 'let-go' }, 0);

    follower.on('change', this.#onChange);
    follower.on('event', this.#onEvent);
    follower.on('session-end', this.#onSessionEnd);
    if (follower.ready) this.#changed(follower.snapshot());
  }

  /** The label value of a member or owner id, capped; values of members gone are given back. */
  #member(id: string): string {
    const label = this.#members.label(id);
    if (label !== OVERFLOW_LABEL) this.#inUse.add(id);
    return label;
  }

  /**
   * Since when `election` has been without a live leader (monotonic ms), or undefined while its
   * leader `lease` has been seen renewed recently enough.
   */
  #leaderlessAt(election: string, lease: string | null, now: number): number | undefined {
    const state = this.#election(election);
    if (lease === null) return Math.min(state.noLeaderSince ?? now, state.renewedAt ?? now);
    const age = this.follower.lease(lease);
    if (age === undefined) return undefined; // a leader not looked up yet: no evidence it is gone
    state.ttlMs = age.ttlMs;
    state.renewedAt = now - age.renewedAgoMs;
    const staleAfterMs =
      (age.ttlMs * 2) / 3 + this.follower.refreshMs + this.follower.store.capabilities.ttlGranularityMs;
    return age.renewedAgoMs > staleAfterMs ? state.renewedAt : undefined;
  }

  #election(name: string) {
    let state = this.#elections.get(name);
    if (!state) {
      state = {};
      // Bounded like the label: past the cap, names share one state (reported as _other).
      if (this.#elections.size < this.metrics.labels.election.limit * 2) this.#elections.set(name, state);
    }
    return state;
  }

  #changed(s: FleetSnapshot): void {
    const now = this.follower.clock.now();
    const led = new Set<string>();
    for (const e of s.elections) {
      this.metrics.leaderSeen(e.name, e.leader?.revision);
      if (e.leader) led.add(e.name);
      // Records the leader's ttl and last renewal (the ones used once it is gone).
      this.#leaderlessAt(e.name, e.leader?.lease ?? null, now);
    }
    for (const [name, state] of this.#elections)
      if (led.has(name)) state.noLeaderSince = undefined;
      else state.noLeaderSince ??= now;

    // Lock entries by key and create revision (a session that locks again reuses its key).
    const seen = new Set<string>();
    for (const l of s.locks) {
      const lock = this.metrics.labels.lock.label(l.name);
      const labels = { lock, kind: l.kind };
      for (const [list, holding] of [
        [l.waiters, false],
        [l.holders, true],
      ] as const)
        for (const entry of list) {
          const id = `${entry.key}@${entry.revision}`;
          seen.add(id);
          let known = this.#locks.get(id);
          if (!known) {
            known = { labels, firstSeen: now, heldSince: undefined };
            this.#locks.set(id, known);
          }
          if (holding && known.heldSince === undefined) {
            known.heldSince = now;
            this.#lockWait.observe(labels, (now - known.firstSeen) / 1000);
            this.#countWait(labels, (now - known.firstSeen) / 1000);
          }
        }
    }
    for (const [id, entry] of this.#locks)
      if (!seen.has(id)) {
        this.#locks.delete(id);
        if (entry.heldSince !== undefined)
          this.#lockHold.observe(entry.labels, (now - entry.heldSince) / 1000);
      }

    // Member label values no longer in use are given back.
    const present = new Set<string>();
    for (const m of s.members) present.add(m.id);
    for (const e of s.elections) if (e.leader) present.add(e.leader.value);
    for (const g of s.slots) for (const o of g.owners) if (o !== null) present.add(o);
    for (const id of this.#inUse)
      if (!present.has(id)) {
        this.#inUse.delete(id);
        this.#members.release(id);
      }
  }

  #event(e: FleetEvent): void {
    if (e.kind === 'leader' && e.failoverMs !== undefined)
      this.#election(e.name).lastFailoverMs = e.failoverMs;
    if (e.kind === 'leader' && e.failoverMs !== undefined && e.departure !== undefined)
      this.#failover.observe(
        { election: this.metrics.labels.election.label(e.name), departure: e.departure },
        e.failoverMs / 1000,
      );
    if (e.kind === 'slots' && e.moved !== undefined) this.metrics.slotsMoved(e.name, e.moved);
  }

  #countWait(labels: { lock: string; kind: string }, seconds: number): void {
    const id = `${labels.kind} ${labels.lock}`;
    let w = this.#waits.get(id);
    if (!w) {
      w = { ...labels, counts: new Array<number>(LOCK_BUCKETS.length + 1).fill(0) };
      this.#waits.set(id, w);
    }
    const i = LOCK_BUCKETS.findIndex((le) => seconds <= le);
    w.counts[i === -1 ? LOCK_BUCKETS.length : i]!++;
  }

  /** The lock waits observed so far, per lock (the `fleet_lock_wait_seconds` histogram's buckets, not cumulated). */
  lockWaits(): LockWaitDistribution[] {
    return [...this.#waits.values()].map((w) => ({ lock: w.lock, kind: w.kind, counts: [...w.counts] }));
  }

  /** Stops following and removes these metrics from the registry. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.follower.off('change', this.#onChange);
    this.follower.off('event', this.#onEvent);
    this.follower.off('session-end', this.#onSessionEnd);
    const registry = this.metrics.registry;
    for (const m of [...this.#gauges, this.#failover, this.#lockWait, this.#lockHold, ...this.#counters]) {
      const name = (m as unknown as { name: string }).name;
      registry.removeSingleMetric(name);
    }
  }
}
