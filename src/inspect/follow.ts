/**
 * The read model of a store, kept current: one read of every tenure prefix at one revision, then
 * ONE watch of the store from that revision, applied key by key. No polling of the keys: a change
 * is seen within one watch delivery. Leases are the exception: keepalives are not store changes,
 * so the time each lease has left is asked with `timeToLive` on a slow timer (`refreshMs`) and
 * counted down on the reader's monotonic clock in between; a lease first seen is asked at once.
 *
 * Events come from comparing successive models (after each watch batch and each lease look):
 * a leader change (with the failover measure of inspect/failover.ts), a lock handed over or
 * freed, a member joining or leaving, slots moving. The model only reads: it holds no session and
 * writes nothing, so following a fleet never changes it.
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type Timer } from '../clock.js';
import { isTenureError } from '../errors.js';
import type { KeyValue, Store, WatchEvent } from '../store/types.js';
import { estimateFaultAt, FAULT_ESTIMATE, failoverMs as measureFailover } from './failover.js';
import { LeaseTracker } from './leases.js';
import {
  bucketOf,
  describeFleet,
  ETCD_LAYOUT_BUCKET,
  inspectedPrefix,
  INSPECT_BUCKETS,
  type EntryView,
  type FleetEvent,
  type FleetSnapshot,
  type LockView,
  type MemberView,
  type TermView,
} from './model.js';
import { leasesOf, readKeys } from './read.js';
import { sleep } from '../sleep.js';

/** Options of {@link FleetFollower}. */
export interface FleetFollowerOptions {
  /**
   * How often to ask the store for the time each lease has left (one `timeToLive` per lease), for
   * sessions' remaining ttl, members' lease-based suspicion and dating a crashed leader's last
   * heartbeat. Keys are followed by a watch, not by this.
   * @default 1000 — a failover estimate for a crash is early by at most this plus one heartbeat
   * interval; lower it to measure short ttls (tests use 50).
   */
  refreshMs?: number;
  /** Events kept for snapshots. @default 200 */
  eventLimit?: number;
  /** The clock of the lease timer and of elapsed time. @default systemClock */
  clock?: Clock;
}

/** Defaults of {@link FleetFollowerOptions}. */
export const FLEET_FOLLOWER_DEFAULTS = Object.freeze({ refreshMs: 1000, eventLimit: 200 });

/** A session (a lease holding keys) that the follower saw end. */
export interface SessionEnd {
  readonly lease: string;
  /** Keys it held when last seen. */
  readonly keys: number;
  /**
   * `expired`: its time ran out by the follower's last look (its holder crashed, froze or lost the
   * store): a session lost. `let-go`: it ended before that (closed, revoked, or its keys deleted).
   */
  readonly departure: 'expired' | 'let-go';
}

/** What a follower knows of one lease now, for gauges that age between snapshots. */
export interface LeaseAge {
  /** Milliseconds before the store expires it unless a heartbeat arrives, counted down. */
  readonly remainingMs: number;
  /** Its ttl as far as seen (the largest time left seen). */
  readonly ttlMs: number;
  /** Milliseconds since it was last seen renewed (on the follower's clock). */
  readonly renewedAgoMs: number;
}

/** Pause before reading again after a failed read or watch. */
const RETRY_MS = 200;

const byKey = (a: KeyValue, b: KeyValue) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * A live read model of a fleet.
 *
 * @example
 * ```ts
 * const fleet = new FleetFollower(store);
 * fleet.on('event', (e) => console.log(e.text));
 * await fleet.start();
 * ```
 */
export class FleetFollower extends EventEmitter<{
  change: [FleetSnapshot];
  event: [FleetEvent];
  error: [unknown];
  /** A session that held keys is gone: see {@link SessionEnd}. */
  'session-end': [SessionEnd];
}> {
  readonly store: Store;
  readonly refreshMs: number;
  readonly eventLimit: number;
  readonly clock: Clock;
  readonly #ac = new AbortController();
  readonly #leases: LeaseTracker;
  /** The keys of every bucket (inspected prefixes, etcd's layout), by bucket then key, as of {@link #revision}. */
  readonly #keys = new Map<string, Map<string, KeyValue>>(INSPECT_BUCKETS.map((b) => [b, new Map()]));
  #revision = 0;
  readonly #history = new Map<string, TermView[]>();
  /** Each slot map's last non-null holder per slot, to count a move once (not as leave + take). */
  readonly #lastHolders = new Map<string, (string | null)[]>();
  #events: FleetEvent[] = [];
  #snapshot: FleetSnapshot | undefined;
  #timer: Timer | undefined;
  /** Updates run one at a time, in order. */
  #updating: Promise<void> = Promise.resolve();
  #reading: Promise<void> | undefined;
  /** Monotonic time of the latest update. */
  #updatedAt = 0;
  #failure: { error: unknown; at: number } | undefined;

  constructor(store: Store, options: FleetFollowerOptions = {}) {
    super();
    this.store = store;
    this.refreshMs = options.refreshMs ?? FLEET_FOLLOWER_DEFAULTS.refreshMs;
    this.eventLimit = options.eventLimit ?? FLEET_FOLLOWER_DEFAULTS.eventLimit;
    this.clock = options.clock ?? systemClock;
    this.#leases = new LeaseTracker(store, () => this.clock.now());
  }

  /**
   * Why the latest read failed (the store unreachable, a read refused), with the wall-clock time
   * of the failure; undefined once a read succeeds again. The snapshot then stays the last good one.
   */
  get failure(): { readonly error: unknown; readonly at: number } | undefined {
    return this.#failure;
  }

  /**
   * What is known of `lease` now (counted down on the follower's clock since its last look), or
   * undefined for a lease not looked up or gone. No store access.
   */
  lease(lease: string): LeaseAge | undefined {
    const info = this.#leases.info(lease);
    const renewedAt = this.#leases.renewedAt(lease);
    if (info?.remainingMs === undefined || info.maxRemainingMs === undefined || renewedAt === undefined)
      return undefined;
    return {
      remainingMs: info.remainingMs,
      ttlMs: info.maxRemainingMs,
      renewedAgoMs: Math.max(0, this.clock.now() - renewedAt),
    };
  }

  /** True once a read has succeeded, so that {@link snapshot} returns. */
  get ready(): boolean {
    return this.#snapshot !== undefined;
  }

  /** The latest snapshot. @throws if neither start() nor refresh() has completed. */
  snapshot(): FleetSnapshot {
    if (!this.#snapshot) throw new Error('the fleet has not been read yet; await start()');
    return this.#snapshot;
  }

  /** Reads the fleet, then follows it with one watch and the lease timer until close(). */
  async start(): Promise<void> {
    await this.refresh();
    void this.#follow();
    const tick = () => {
      if (this.#ac.signal.aborted) return;
      void this.#enqueue(async () => {
        if (!this.ready) return; // the watch loop is reading the store again
        await this.#leases.look(leasesOf(this.#kvs()));
        this.#update();
      })
        .catch((err: unknown) => this.#fail(err))
        .finally(() => {
          if (!this.#ac.signal.aborted) this.#timer = this.clock.setTimeout(tick, this.refreshMs).unref();
        });
    };
    this.#timer = this.clock.setTimeout(tick, this.refreshMs).unref();
  }

  /**
   * Reads the whole store again (coalescing concurrent calls), replacing the model, and emits what
   * changed. The follower does this by itself only when its watch fell behind or failed.
   */
  refresh(): Promise<void> {
    this.#reading ??= this.#enqueue(async () => {
      try {
        const { revision, kvs } = await readKeys(this.store);
        for (const [p, list] of kvs) this.#keys.set(p, new Map(list.map((kv) => [kv.key, kv])));
        this.#revision = revision;
        await this.#leases.look(leasesOf(kvs));
        this.#update();
      } catch (err) {
        this.#fail(err);
      } finally {
        this.#reading = undefined;
      }
    });
    return this.#reading;
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.#updating.then(step);
    this.#updating = run.catch(() => undefined);
    return run;
  }

  #fail(err: unknown): void {
    if (this.#ac.signal.aborted || isTenureError(err, 'TENURE_CLOSED')) return;
    this.#failure = { error: err, at: Date.now() };
    this.emit('error', err);
  }

  /**
   * The one watch: every key of the store's namespace, the inspected prefixes kept. It starts
   * from the latest successful read; when the watch fails or falls behind a compaction, it reads
   * everything again and follows on from that read, retrying a failed read every
   * {@link RETRY_MS} (never in a tight loop).
   */
  async #follow(): Promise<void> {
    const signal = this.#ac.signal;
    let behind = !this.ready;
    let failures = 0;
    while (!signal.aborted) {
      if (failures > 0) await sleep(RETRY_MS, { clock: this.clock, signal });
      if (signal.aborted) return;
      if (behind) {
        await this.refresh();
        if (this.#failure !== undefined) {
          failures++;
          continue;
        }
        behind = false;
      }
      try {
        for await (const batch of this.store.watch('', {
          prefix: true,
          fromRevision: this.#revision + 1,
          signal,
        })) {
          failures = 0;
          await this.#enqueue(async () => {
            let relevant = 0;
            for (const e of batch.events) if (this.#apply(e)) relevant++;
            this.#revision = Math.max(this.#revision, batch.revision);
            if (relevant === 0) return;
            await this.#leases.lookNew(leasesOf(this.#kvs())).catch(() => undefined);
            this.#update();
          });
        }
        failures++; // a watch that ends by itself: follow again, after a pause
      } catch (err) {
        if (signal.aborted || isTenureError(err, 'TENURE_CLOSED')) return;
        behind = true;
        // Fell behind the store's history: read again at once. Anything else: say so, then wait.
        if (!isTenureError(err, 'TENURE_COMPACTED')) {
          this.emit('error', err);
          failures++;
        }
      }
    }
  }

  /**
   * Applies one change to the model's keys; returns whether it concerns the model. Event by event,
   * in order: an etcd-layout key is known only by the bucket holding it once put (its delete
   * carries no lease), so a put and its delete in one batch must be applied one after the other.
   */
  #apply(e: WatchEvent): boolean {
    const key = e.kv.key;
    const bucket = e.type === 'put' ? bucketOf(e.kv) : undefined;
    if (bucket !== undefined) {
      this.#keys.get(bucket)!.set(key, e.kv);
      return true;
    }
    // Deleted, or rewritten into a key no layout reads: out of whichever bucket held it.
    const prefix = inspectedPrefix(key);
    if (prefix !== undefined) {
      this.#keys.get(prefix)!.delete(key);
      return true;
    }
    return this.#keys.get(ETCD_LAYOUT_BUCKET)!.delete(key);
  }

  /** The model's keys by prefix, each in key order (the order a read returns them). */
  #kvs(): Map<string, KeyValue[]> {
    return new Map([...this.#keys].map(([p, keys]) => [p, [...keys.values()].sort(byKey)]));
  }

  /** Describes the model, compares it with the last snapshot, and emits. */
  #update(): void {
    const now = this.clock.now();
    const next = describeFleet(this.#revision, this.#kvs(), (l) => this.#leases.info(l));
    const previous = this.#snapshot;
    if (previous) this.#diff(previous, next, now, this.#updatedAt);
    else {
      for (const e of next.elections) if (e.leader) this.#recordTerm(e.name, e.leader, undefined);
      for (const m of next.slots) this.#lastHolders.set(m.name, [...m.owners]);
    }
    this.#updatedAt = now;
    this.#snapshot = {
      ...next,
      elections: next.elections.map((e) => ({ ...e, history: this.#history.get(e.name) ?? [] })),
      events: this.#events,
    };
    this.#failure = undefined;
    this.emit('change', this.#snapshot);
  }

  #recordTerm(name: string, leader: EntryView, failoverMs: number | undefined): TermView {
    const list = this.#history.get(name) ?? [];
    const term: TermView = { term: leader.revision, value: leader.value, since: Date.now(), failoverMs };
    list.push(term);
    if (list.length > 20) list.shift();
    this.#history.set(name, list);
    return term;
  }

  #emit(e: Omit<FleetEvent, 'at'>): void {
    const event = { ...e, at: Date.now() };
    this.#events = [...this.#events, event].slice(-this.eventLimit);
    this.emit('event', event);
  }

  #diff(prev: FleetSnapshot, next: FleetSnapshot, now: number, prevAt: number): void {
    const alive = new Set(next.sessions.map((s) => s.lease));
    for (const s of prev.sessions)
      if (!alive.has(s.lease))
        this.emit('session-end', {
          lease: s.lease,
          keys: s.keys,
          departure: this.#leases.ranOutBy(s.lease, now) ? 'expired' : 'let-go',
        });
    const prevElections = new Map(prev.elections.map((e) => [e.name, e]));
    for (const e of next.elections) {
      const before = prevElections.get(e.name)?.leader;
      prevElections.delete(e.name);
      if (e.leader && before?.revision !== e.leader.revision) {
        // A lease gone after the time it had left when last seen ran out expired (its holder
        // died or froze); one still alive, or gone before that, let go.
        let failoverMs: number | undefined;
        let basis = '';
        let departure: 'expired' | 'let-go' | undefined;
        if (before) {
          const gone = !next.sessions.some((s) => s.lease === before.lease);
          departure =
            gone && before.lease !== null && this.#leases.ranOutBy(before.lease, now) ? 'expired' : 'let-go';
          const faultAt = estimateFaultAt({
            lastRenewedAt: before.lease === null ? undefined : this.#leases.renewedAt(before.lease),
            lastSeenLeadingAt: prevAt,
            departure,
          });
          failoverMs = measureFailover(faultAt, now);
          basis = FAULT_ESTIMATE[departure];
        }
        this.#recordTerm(e.name, e.leader, failoverMs);
        this.#emit({
          kind: 'leader',
          name: e.name,
          term: e.leader.revision,
          value: e.leader.value,
          ...(before ? { previous: before.value, previousTerm: before.revision, departure } : {}),
          failoverMs,
          text:
            `${e.name}: ${e.leader.value} leads in term ${e.leader.revision}` +
            (before ? ` after ${before.value} (term ${before.revision})` : '') +
            (failoverMs !== undefined ? `, failover ≈${failoverMs} ms (${basis})` : ''),
        });
      } else if (!e.leader && before) {
        this.#emit({
          kind: 'leader-lost',
          name: e.name,
          previous: before.value,
          previousTerm: before.revision,
          text: `${e.name}: no leader (${before.value} left term ${before.revision})`,
        });
      }
    }
    for (const [name, e] of prevElections)
      if (e.leader)
        this.#emit({
          kind: 'leader-lost',
          name,
          previous: e.leader.value,
          previousTerm: e.leader.revision,
          text: `${name}: no leader (${e.leader.value} left term ${e.leader.revision}); no candidates`,
        });

    // A lock event per new holder; an unlock event when the last holder is gone.
    const lockId = (l: LockView) => `${l.kind} ${l.name}`;
    const prevLocks = new Map(prev.locks.map((l) => [lockId(l), l]));
    for (const l of next.locks) {
      const before = new Set(prevLocks.get(lockId(l))?.holders.map((h) => h.revision));
      prevLocks.delete(lockId(l));
      for (const h of l.holders)
        if (!before.has(h.revision))
          this.#emit({
            kind: 'lock',
            name: l.name,
            lockKind: l.kind,
            ...(h.mode === undefined ? {} : { mode: h.mode }),
            term: h.revision,
            value: h.value,
            waiting: l.waiters.length,
            text: `${lockId(l)}: ${h.mode === undefined ? '' : `${h.mode} `}held by ${h.value} (fencing token ${h.revision}), ${l.waiters.length} waiting`,
          });
      if (l.holders.length === 0 && before.size > 0)
        this.#emit({ kind: 'unlock', name: l.name, lockKind: l.kind, text: `${lockId(l)}: free` });
    }
    for (const [id, l] of prevLocks)
      if (l.holders.length > 0)
        this.#emit({ kind: 'unlock', name: l.name, lockKind: l.kind, text: `${id}: free` });

    const key = (m: MemberView) => `${m.group}/${m.id}`;
    const prevMembers = new Set(prev.members.map(key));
    const nextMembers = new Set(next.members.map(key));
    for (const m of next.members)
      if (!prevMembers.has(key(m)))
        this.#emit({ kind: 'member-join', name: m.group, value: m.id, text: `${m.group}: ${m.id} joined` });
    for (const m of prev.members)
      if (!nextMembers.has(key(m)))
        this.#emit({ kind: 'member-leave', name: m.group, value: m.id, text: `${m.group}: ${m.id} left` });

    // A slot moves when a holder takes it that differs from its last holder: the release and the
    // take (two snapshots apart, or one) count once, and a slot that goes back to the same
    // holder (its session was lost and it rejoined) not at all.
    for (const s of next.slots) {
      const last = this.#lastHolders.get(s.name);
      if (!last || last.length !== s.owners.length) {
        this.#lastHolders.set(s.name, [...s.owners]);
        continue;
      }
      let moved = 0;
      s.owners.forEach((o, i) => {
        if (o === null) return;
        if (last[i] !== null && last[i] !== o) moved++;
        last[i] = o;
      });
      if (moved > 0)
        this.#emit({
          kind: 'slots',
          name: s.name,
          moved,
          slotCount: s.owners.length,
          term: s.epoch,
          text: `${s.name}: ${moved} of ${s.owners.length} slots moved to new holders (table ${s.epoch ?? '-'})`,
        });
    }
  }

  /** Stops following. Idempotent. Does not close the store. */
  close(): void {
    this.#ac.abort();
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
  }
}
