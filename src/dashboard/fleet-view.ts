/**
 * What a fleet looks like from the store: sessions, elections, locks, members (with the heartbeat
 * mesh's suspicion, where members publish it) and the ShardManager's slot maps, read in one
 * transaction (one revision), and kept current by watches. Shared by `tenure status`
 * (one read), `tenure watch` (its events) and the dashboard (its snapshots and events).
 *
 * It only reads: it holds no session and writes nothing, so watching a fleet never changes it.
 * Events come from comparing successive snapshots, so changes that come and go between two
 * reads are not seen (the terms in the history show the gap).
 */
import { EventEmitter } from 'node:events';
import { isTenureError } from '../errors.js';
import { estimateFaultAt, FAULT_ESTIMATE, failoverMs as measureFailover } from '../inspect/failover.js';
import { PREFIX } from '../recipes/names.js';
import { splitTagged } from '../recipes/owner.js';
import { describeGroups } from '../recipes/shard-layout.js';
import type { KeyValue, Store } from '../store/types.js';
import { SUSPICION_PREFIX, type PublishedSuspicion } from './suspicion.js';

const PREFIXES = [
  PREFIX.election,
  PREFIX.mutex,
  PREFIX.semaphore,
  PREFIX.rwlock,
  PREFIX.members,
  PREFIX.shards,
  SUSPICION_PREFIX,
] as const;

/** A session: a live lease that holds keys. */
export interface SessionView {
  readonly lease: string;
  /** Keys held under it. */
  readonly keys: number;
  /** Milliseconds before the store expires it unless a heartbeat arrives (undefined: gone). */
  readonly remainingMs: number | undefined;
}

/** A candidate or queue entry. */
export interface EntryView {
  /** What it wrote: a candidate's value, a lock waiter's owner (host:pid). */
  readonly value: string;
  /** A read-write lock entry's mode. */
  readonly mode?: 'read' | 'write';
  /** Its create revision: a leader's term, a lock holder's fencing token. */
  readonly revision: number;
  readonly lease: string | null;
  readonly key: string;
}

/** One leader of an election, as seen by this view. */
export interface TermView {
  readonly term: number;
  readonly value: string;
  /** Wall-clock time (ms since epoch) it was first seen leading, for display. */
  readonly since: number;
  /**
   * Failover time, from the fault to this leader acting (inspect/failover.ts, the definition the
   * demo uses too), the fault dated by estimateFaultAt: the previous leader's last renewal seen
   * when its lease expired, the last read that saw it leading when it let go (resigned, or closed
   * its session). Undefined for the first leader this view saw.
   */
  readonly failoverMs?: number;
}

/** An election. */
export interface ElectionView {
  readonly name: string;
  readonly leader: EntryView | undefined;
  /** The leader's term (its key's create revision, the fencing token it acts with); undefined without a leader. */
  readonly term: number | undefined;
  /** Every candidate, in queue order (the leader first). */
  readonly candidates: readonly EntryView[];
  /** Leaders seen by this view, oldest first (at most 20). */
  readonly history: readonly TermView[];
}

/** A mutex, a semaphore or a read-write lock. */
export interface LockView {
  readonly name: string;
  readonly kind: 'mutex' | 'semaphore' | 'rwlock';
  /**
   * Who holds it, in queue order (each entry's revision is its fencing token): one for a mutex
   * or a write lock; the first `permits` entries of a semaphore; the readers ahead of the first
   * writer of a read-write lock.
   */
  readonly holders: readonly EntryView[];
  readonly waiters: readonly EntryView[];
  /**
   * A semaphore's permits, as its entries declare them. Processes that disagree on the count
   * break its bound: then this is the smallest count declared and `permitsDeclared` lists all.
   */
  readonly permits?: number;
  readonly permitsDeclared?: readonly number[];
}

/** A member of a group. */
export interface MemberView {
  readonly group: string;
  readonly id: string;
  readonly value: unknown;
  /** The address the member published (Membership's `address`, `host:port`), if any. */
  readonly address: string | undefined;
  /** The failure domain the member published (Membership's `zone`), if any. */
  readonly zone: string | undefined;
  readonly lease: string | null;
  /**
   * Lease-based suspicion: how far past its normal keepalive rhythm the member's session is, 0
   * just after a keepalive, 1 when its lease is about to expire (1 − remaining ttl ÷ the largest
   * remaining ttl seen), to two decimals. Undefined without a lease.
   */
  readonly suspicion: number | undefined;
  /**
   * The heartbeat mesh's phi for this member: the highest that any live peer of its group
   * publishes (see publishSuspicion), to two decimals. Undefined when no peer publishes one.
   */
  readonly phi: number | undefined;
  /** How many peers published a phi for this member. */
  readonly phiObservers: number;
  /** The phi at which those peers suspect a member (their detector's threshold). */
  readonly phiThreshold: number | undefined;
}

/** A ShardManager group's slots: who holds each slot, and who the table assigns it to. */
export interface SlotMapView {
  /** The group. */
  readonly name: string;
  /** Holder of each slot (its key `shards/<group>/slot/<s>`), null while the slot moves. */
  readonly owners: readonly (string | null)[];
  /** Owner of each slot by the committed table (`shards/<group>/table`); null without a table. */
  readonly planned: readonly (string | null)[];
  /** The table's mod revision (undefined without a table). */
  readonly epoch: number | undefined;
}

/** What happened, as seen by comparing two snapshots. */
export interface FleetEvent {
  readonly kind: 'leader' | 'leader-lost' | 'lock' | 'unlock' | 'member-join' | 'member-leave' | 'slots';
  /** Election, lock, group or slot map name. */
  readonly name: string;
  /** Wall-clock time (ms since epoch), for display. */
  readonly at: number;
  readonly text: string;
  /** A leader's term, a lock holder's fencing token, a slot table's revision. */
  readonly term?: number;
  /** The new leader, the new lock holder, the member that joined or left. */
  readonly value?: string;
  /** The leader before (a `leader` or `leader-lost` event), and its term. */
  readonly previous?: string;
  readonly previousTerm?: number;
  /** A lock event's kind of lock, and a read-write lock entry's mode. */
  readonly lockKind?: LockView['kind'];
  readonly mode?: 'read' | 'write';
  /** Waiters queued behind a lock when it was taken. */
  readonly waiting?: number;
  readonly failoverMs?: number;
  /** Slots moved to a new holder, of `slotCount`. */
  readonly moved?: number;
  readonly slotCount?: number;
}

/** A key under a tenure prefix that the view could not decode, and why; it is left out of the snapshot. */
export interface SkippedKey {
  /** The key (its first 200 characters). */
  readonly key: string;
  /** Why (its first 200 characters). */
  readonly reason: string;
}

/** At most this many skipped keys are listed in a snapshot (all are counted). */
export const SKIPPED_LIST_LIMIT = 50;

/** Everything the view knows. */
export interface FleetSnapshot {
  readonly revision: number;
  readonly sessions: readonly SessionView[];
  readonly elections: readonly ElectionView[];
  readonly locks: readonly LockView[];
  readonly members: readonly MemberView[];
  readonly slots: readonly SlotMapView[];
  /**
   * Keys the view could not decode (a slot number past the table, a key without a name, a value
   * that is not what its recipe writes): the first {@link SKIPPED_LIST_LIMIT}, in the order read.
   * They are reported, never trusted: one malformed key must not hide or break the rest.
   */
  readonly skipped: readonly SkippedKey[];
  /** How many keys were skipped in all. */
  readonly skippedCount: number;
  /** The latest events, oldest first. */
  readonly events: readonly FleetEvent[];
}

/** Options of {@link FleetView}. */
export interface FleetViewOptions {
  /**
   * How often to re-read even without a change, to follow sessions' remaining ttl (suspicion).
   * @default 250 — a quarter of a one-second ttl.
   */
  refreshMs?: number;
  /** Events kept for snapshots. @default 200 */
  eventLimit?: number;
}

const decoder = new TextDecoder();
const byRevision = (a: KeyValue, b: KeyValue) => a.createRevision - b.createRevision;
const byName = <T>([a]: [string, T], [b]: [string, T]) => (a < b ? -1 : a > b ? 1 : 0);

const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

/** Collects the keys a read could not decode: the first few listed, all counted. */
class Skipped {
  readonly list: SkippedKey[] = [];
  count = 0;
  add(key: string, reason: string): void {
    this.count++;
    if (this.list.length < SKIPPED_LIST_LIMIT)
      // Both may quote the store (a key, a table's version): keep them short.
      this.list.push({ key: clip(key), reason: clip(reason) });
  }
}

/** Numbers shown to people and in JSON: two decimals are plenty for a ratio or a phi. */
const round2 = (x: number) => Math.round(x * 100) / 100;

function entry(kv: KeyValue): EntryView {
  return { value: decoder.decode(kv.value), revision: kv.createRevision, lease: kv.lease, key: kv.key };
}

/** An entry whose value is `<word> <owner>` (semaphores, read-write locks): the word and the entry. */
function tagged(kv: KeyValue): [string, EntryView] {
  const e = entry(kv);
  const [tag, owner] = splitTagged(e.value);
  return [tag, { ...e, value: owner }];
}

/** The mutexes, semaphores and read-write locks, by name and kind. */
function lockViews(kvs: Map<string, KeyValue[]>, skipped: Skipped): LockView[] {
  const locks: LockView[] = [];
  for (const [name, list] of groupBy(kvs.get(PREFIX.mutex)!, PREFIX.mutex, skipped)) {
    const q = list.map(entry);
    locks.push({ name, kind: 'mutex', holders: q.slice(0, 1), waiters: q.slice(1) });
  }
  for (const [name, list] of groupBy(kvs.get(PREFIX.semaphore)!, PREFIX.semaphore, skipped)) {
    const q: [number, EntryView][] = [];
    for (const kv of list) {
      const [count, e] = tagged(kv);
      const n = /^[1-9][0-9]{0,8}$/.test(count) ? Number(count) : undefined;
      if (n === undefined)
        skipped.add(kv.key, 'a semaphore entry without its permit count (<permits> <owner>)');
      else q.push([n, e]);
    }
    if (q.length === 0) continue;
    const declared = [...new Set(q.map(([n]) => n))];
    const permits = declared.reduce((a, b) => Math.min(a, b));
    const entries = q.map(([, e]) => e);
    locks.push({
      name,
      kind: 'semaphore',
      holders: entries.slice(0, permits),
      waiters: entries.slice(permits),
      permits,
      ...(declared.length > 1 ? { permitsDeclared: declared.sort((a, b) => a - b) } : {}),
    });
  }
  for (const [name, list] of groupBy(kvs.get(PREFIX.rwlock)!, PREFIX.rwlock, skipped)) {
    const q: EntryView[] = [];
    for (const kv of list) {
      const [mode, e] = tagged(kv);
      if (mode === 'read' || mode === 'write') q.push({ ...e, mode });
      else skipped.add(kv.key, 'a read-write lock entry that is neither read nor write');
    }
    if (q.length === 0) continue;
    const firstWriter = q.findIndex((e) => e.mode === 'write');
    const held = firstWriter === 0 ? 1 : firstWriter < 0 ? q.length : firstWriter;
    locks.push({ name, kind: 'rwlock', holders: q.slice(0, held), waiters: q.slice(held) });
  }
  return locks;
}

/**
 * The keys `<prefix><name>/<rest>` by name, each list in create-revision order, the names in
 * order. A key without a name or without anything after it is skipped.
 */
function groupBy(kvs: readonly KeyValue[], prefix: string, skipped: Skipped): Map<string, KeyValue[]> {
  const groups = new Map<string, KeyValue[]>();
  for (const kv of kvs) {
    const rest = kv.key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) {
      skipped.add(kv.key, `not ${prefix}<name>/<key>`);
      continue;
    }
    const name = rest.slice(0, slash);
    let list = groups.get(name);
    if (!list) groups.set(name, (list = []));
    list.push(kv);
  }
  for (const list of groups.values()) list.sort(byRevision);
  return new Map([...groups].sort(byName));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The slot maps of the ShardManager's groups, decoded by the shard layout (the one place that
 * knows the shard keys): each group's table states its slot count, and memory is bounded by it
 * (at most 65,536), never by an index read from the store. A group without a readable table is
 * not drawn; its keys are reported as skipped.
 */
function slotMaps(kvs: readonly KeyValue[], skipped: Skipped): SlotMapView[] {
  const maps: SlotMapView[] = [];
  for (const d of describeGroups(kvs)) {
    for (const u of d.undecoded) skipped.add(u.key, u.reason);
    skipped.count += d.undecodedCount - d.undecoded.length;
    if (d.slots.length === 0) continue;
    maps.push({
      name: d.group,
      owners: d.slots.map((x) => x.holder ?? null),
      planned: d.slots.map((x) => x.planned ?? null),
      epoch: d.table?.modRevision,
    });
  }
  return maps;
}

/** Each member's highest published phi: group → member → { phi, observers, threshold }. */
function meshSuspicion(
  kvs: readonly KeyValue[],
  live: ReadonlySet<string>,
  skipped: Skipped,
): Map<string, { phi: number; observers: number; threshold: number }> {
  const out = new Map<string, { phi: number; observers: number; threshold: number }>();
  for (const kv of kvs) {
    const rest = kv.key.slice(SUSPICION_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) {
      skipped.add(kv.key, `not ${SUSPICION_PREFIX}<group>/<member>`);
      continue;
    }
    const group = rest.slice(0, slash);
    const v = parseJson(decoder.decode(kv.value)) as Partial<PublishedSuspicion> | null;
    if (v === null || typeof v !== 'object' || v.phi === null || typeof v.phi !== 'object') {
      skipped.add(kv.key, 'not a published suspicion ({"phi": {...}})');
      continue;
    }
    // Only live members' opinions count: the key goes with the lease, but be sure.
    if (!live.has(rest)) continue;
    for (const [peer, phi] of Object.entries(v.phi)) {
      if (typeof phi !== 'number' || !Number.isFinite(phi)) continue;
      const key = `${group}/${peer}`;
      const had = out.get(key);
      const threshold = typeof v.threshold === 'number' ? v.threshold : 8;
      out.set(key, {
        phi: Math.max(had?.phi ?? 0, phi),
        observers: (had?.observers ?? 0) + 1,
        threshold: had?.threshold ?? threshold,
      });
    }
  }
  return out;
}

/** Reads the raw state: every key under the recipes' prefixes, at one revision. */
async function readKeys(store: Store): Promise<{ revision: number; kvs: Map<string, KeyValue[]> }> {
  const res = await store.txn({
    success: PREFIXES.map((key) => ({ type: 'get' as const, key, prefix: true })),
  });
  const kvs = new Map<string, KeyValue[]>();
  PREFIXES.forEach((p, i) => {
    const r = res.results[i];
    kvs.set(p, r?.type === 'get' ? [...r.kvs] : []);
  });
  return { revision: res.revision, kvs };
}

interface LeaseTrack {
  /** Largest remaining ttl seen: the lease's ttl, as far as this view can tell. */
  maxRemaining: number;
  lastRemaining: number;
  /** performance.now() of the last read that found the lease renewed. */
  renewedAt: number;
  /** performance.now() of the last read that found the lease alive (`lastRemaining` then). */
  seenAt: number;
}

/**
 * A live view of a fleet.
 *
 * @example
 * ```ts
 * const view = new FleetView(store);
 * view.on('event', (e) => console.log(e.text));
 * await view.start();
 * ```
 */
export class FleetView extends EventEmitter<{
  change: [FleetSnapshot];
  event: [FleetEvent];
  error: [unknown];
}> {
  readonly store: Store;
  readonly refreshMs: number;
  readonly eventLimit: number;
  readonly #ac = new AbortController();
  readonly #leases = new Map<string, LeaseTrack>();
  readonly #history = new Map<string, TermView[]>();
  /** Each slot map's last non-null holder per slot, to count a move once (not as leave + take). */
  readonly #lastHolders = new Map<string, (string | null)[]>();
  #events: FleetEvent[] = [];
  #snapshot: FleetSnapshot | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #again = false;
  /** performance.now() of the latest read. */
  #readAt = 0;
  #failure: { error: unknown; at: number } | undefined;

  constructor(store: Store, options: FleetViewOptions = {}) {
    super();
    this.store = store;
    this.refreshMs = options.refreshMs ?? 250;
    this.eventLimit = options.eventLimit ?? 200;
  }

  /**
   * One read of the fleet, without watching (what `tenure status` prints).
   * @throws what the store's read threw.
   */
  static async read(store: Store): Promise<FleetSnapshot> {
    const view = new FleetView(store);
    view.on('error', () => undefined);
    await view.refresh();
    if (view.#failure !== undefined) throw view.#failure.error;
    return view.snapshot();
  }

  /**
   * Why the latest read failed (the store unreachable, a read refused), with the wall-clock time
   * of the failure; undefined once a read succeeds again. The snapshot then stays the last good one.
   */
  get failure(): { readonly error: unknown; readonly at: number } | undefined {
    return this.#failure;
  }

  /** True once a read has succeeded, so that {@link snapshot} returns. */
  get ready(): boolean {
    return this.#snapshot !== undefined;
  }

  /** The latest snapshot. @throws if neither start() nor refresh() has completed. */
  snapshot(): FleetSnapshot {
    if (!this.#snapshot) throw new Error('FleetView has not read the store yet; await start()');
    return this.#snapshot;
  }

  /** Reads the fleet, then follows it with watches and a periodic refresh until close(). */
  async start(): Promise<void> {
    await this.refresh();
    for (const prefix of PREFIXES) void this.#watch(prefix);
    const tick = () => {
      if (this.#ac.signal.aborted) return;
      void this.refresh().finally(() => {
        if (!this.#ac.signal.aborted) this.#timer = setTimeout(tick, this.refreshMs);
      });
    };
    this.#timer = setTimeout(tick, this.refreshMs);
  }

  async #watch(prefix: string): Promise<void> {
    while (!this.#ac.signal.aborted) {
      try {
        for await (const _batch of this.store.watch(prefix, { prefix: true, signal: this.#ac.signal }))
          void this.refresh();
      } catch (err) {
        if (this.#ac.signal.aborted || isTenureError(err, 'TENURE_CLOSED')) return;
        this.emit('error', err);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Reads the store now (coalescing concurrent calls) and emits what changed. */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#read();
        } while (this.#again && !this.#ac.signal.aborted);
      } catch (err) {
        if (!this.#ac.signal.aborted && !isTenureError(err, 'TENURE_CLOSED')) {
          this.#failure = { error: err, at: Date.now() };
          this.emit('error', err);
        }
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #read(): Promise<void> {
    const { revision, kvs } = await readKeys(this.store);
    const now = performance.now();
    const leaseKeys = new Map<string, number>();
    for (const list of kvs.values())
      for (const kv of list)
        if (kv.lease !== null) leaseKeys.set(kv.lease, (leaseKeys.get(kv.lease) ?? 0) + 1);
    const remaining = new Map<string, number | undefined>();
    await Promise.all(
      [...leaseKeys.keys()].map(async (lease) => {
        remaining.set(lease, await this.store.timeToLive(lease).catch(() => undefined));
      }),
    );
    const granularityMs = this.store.capabilities.ttlGranularityMs;
    for (const [lease, ms] of remaining) {
      if (ms === undefined) continue;
      const t = this.#leases.get(lease);
      if (!t) this.#leases.set(lease, { maxRemaining: ms, lastRemaining: ms, renewedAt: now, seenAt: now });
      else {
        // More time left than at the last read: renewed since. A store that reports whole
        // seconds (etcd) can show the same nonzero time left with or without a renewal, but not
        // for longer than its granularity without one: a renewal at most that long ago. (Zero
        // can last longer: the store revokes an expired lease a little late.)
        if (ms > t.lastRemaining) t.renewedAt = now;
        else if (ms === t.lastRemaining && ms > 0 && granularityMs > 1)
          t.renewedAt = Math.max(t.renewedAt, now - granularityMs);
        t.seenAt = now;
        t.lastRemaining = ms;
        t.maxRemaining = Math.max(t.maxRemaining, ms);
      }
    }
    const sessions: SessionView[] = [...leaseKeys].map(([lease, keys]) => {
      const ms = remaining.get(lease);
      return { lease, keys, remainingMs: ms === undefined ? undefined : Math.round(ms) };
    });

    const skipped = new Skipped();
    const elections = [...groupBy(kvs.get(PREFIX.election)!, PREFIX.election, skipped)].map(
      ([name, list]): ElectionView => {
        const candidates = list.map(entry);
        const leader = candidates[0];
        return { name, leader, term: leader?.revision, candidates, history: this.#history.get(name) ?? [] };
      },
    );
    const locks = lockViews(kvs, skipped);
    const memberKeys = groupBy(kvs.get(PREFIX.members)!, PREFIX.members, skipped);
    const live = new Set<string>();
    for (const list of memberKeys.values())
      for (const kv of list) live.add(kv.key.slice(PREFIX.members.length));
    const mesh = meshSuspicion(kvs.get(SUSPICION_PREFIX)!, live, skipped);
    const members: MemberView[] = [];
    for (const [group, list] of memberKeys)
      for (const kv of [...list].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
        const rest = kv.key.slice(PREFIX.members.length);
        const t = kv.lease === null ? undefined : this.#leases.get(kv.lease);
        const left = kv.lease === null ? undefined : remaining.get(kv.lease);
        const phi = mesh.get(rest);
        const value = parseJson(decoder.decode(kv.value));
        const field = (name: string) => {
          const v =
            value !== null && typeof value === 'object'
              ? (value as Record<string, unknown>)[name]
              : undefined;
          return typeof v === 'string' ? v : undefined;
        };
        members.push({
          group,
          id: rest.slice(group.length + 1),
          value,
          address: field('address'),
          zone: field('zone'),
          lease: kv.lease,
          suspicion:
            t === undefined || left === undefined || t.maxRemaining <= 0
              ? undefined
              : round2(Math.min(1, Math.max(0, 1 - left / t.maxRemaining))),
          phi: phi === undefined ? undefined : round2(phi.phi),
          phiObservers: phi?.observers ?? 0,
          phiThreshold: phi?.threshold,
        });
      }
    const slots = slotMaps(kvs.get(PREFIX.shards)!, skipped);

    const previous = this.#snapshot;
    const next: FleetSnapshot = {
      revision,
      sessions,
      elections,
      locks,
      members,
      slots,
      skipped: skipped.list,
      skippedCount: skipped.count,
      events: this.#events,
    };
    if (previous) this.#diff(previous, next, now, this.#readAt);
    else {
      for (const e of elections) if (e.leader) this.#recordTerm(e.name, e.leader, undefined);
      for (const m of slots) this.#lastHolders.set(m.name, [...m.owners]);
    }
    this.#readAt = now;
    for (const lease of [...this.#leases.keys()])
      if (!leaseKeys.has(lease) && !remaining.has(lease)) this.#leases.delete(lease);
    this.#snapshot = {
      ...next,
      elections: elections.map((e) => ({ ...e, history: this.#history.get(e.name) ?? [] })),
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
    const prevElections = new Map(prev.elections.map((e) => [e.name, e]));
    for (const e of next.elections) {
      const before = prevElections.get(e.name)?.leader;
      prevElections.delete(e.name);
      if (e.leader && before?.revision !== e.leader.revision) {
        // A lease gone after the time it had left when last seen ran out expired (its holder
        // died or froze); one still alive, or gone before that, let go.
        let failoverMs: number | undefined;
        let basis = '';
        if (before) {
          const t = before.lease === null ? undefined : this.#leases.get(before.lease);
          const gone = !next.sessions.some((s) => s.lease === before.lease);
          const departure =
            gone && t !== undefined && now >= t.seenAt + t.lastRemaining ? 'expired' : 'let-go';
          const faultAt = estimateFaultAt({
            lastRenewedAt: t?.renewedAt,
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
          ...(before ? { previous: before.value, previousTerm: before.revision } : {}),
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

  /** Stops watching. Idempotent. Does not close the store. */
  close(): void {
    this.#ac.abort();
    clearTimeout(this.#timer);
  }
}
