/**
 * The read model of a whole store: what every reader of a fleet (`tenure status`, `tenure watch`,
 * the dashboard, the demo, tests) sees, built only from the recipes' layouts' describe(): no key is
 * sliced here. {@link describeFleet} is pure: the keys read at one revision and what is known of
 * their leases in, a snapshot out.
 */
import * as electionLayout from '../recipes/coordination/election-layout.js';
import * as etcdLayout from '../recipes/coordination/etcd-layout.js';
import * as membershipLayout from '../recipes/fleet/membership-layout.js';
import * as mutexLayout from '../recipes/coordination/mutex-layout.js';
import * as rwlockLayout from '../recipes/coordination/rwlock-layout.js';
import * as semaphoreLayout from '../recipes/coordination/semaphore-layout.js';
import { describeGroups, SHARDS_PREFIX } from '../recipes/fleet/shard-layout.js';
import * as suspicionLayout from '../recipes/fleet/suspicion-layout.js';
import type { QueueEntry } from '../recipes/coordination/queue-layout.js';
import { UndecodedKeys } from '../recipes/undecoded-keys.js';
import type { KeyValue } from '../store/types.js';

/**
 * The prefixes of every recipe whose state the model shows, in the order their undecodable keys
 * are reported. (Mutex lock-delay markers, `mutex-holder/`, are not state a reader needs.)
 */
export const INSPECT_PREFIXES = [
  electionLayout.ELECTION_PREFIX,
  mutexLayout.MUTEX_PREFIX,
  semaphoreLayout.SEMAPHORE_PREFIX,
  rwlockLayout.RWLOCK_PREFIX,
  membershipLayout.MEMBERS_PREFIX,
  suspicionLayout.SUSPICION_PREFIX,
  SHARDS_PREFIX,
] as const;

/** Which of {@link INSPECT_PREFIXES} a key is under, if any. */
export function inspectedPrefix(key: string): (typeof INSPECT_PREFIXES)[number] | undefined {
  return INSPECT_PREFIXES.find((p) => key.startsWith(p));
}

/**
 * Where the model keeps the entries of etcd's concurrency layout (Mutex and Election under
 * `{ layout: 'etcd' }`, `etcdctl lock` and `etcdctl elect`): keys `<name>/<lease in hex>`
 * outside every tenure prefix. Not a key prefix: the name of that bucket in {@link KeysByPrefix}.
 */
export const ETCD_LAYOUT_BUCKET = '(etcd layout)';

/** Every bucket of {@link KeysByPrefix}: the inspected prefixes, then etcd's layout. */
export const INSPECT_BUCKETS: readonly string[] = [...INSPECT_PREFIXES, ETCD_LAYOUT_BUCKET];

/**
 * The bucket of a key read or put: its tenure prefix, else etcd's layout when the key is one of
 * its entries (see isEtcdEntry), else none (another application's key: not shown).
 */
export function bucketOf(kv: KeyValue): string | undefined {
  return inspectedPrefix(kv.key) ?? (etcdLayout.isEtcdEntry(kv) ? ETCD_LAYOUT_BUCKET : undefined);
}

/** A session: a live lease that holds keys. */
export interface SessionView {
  readonly lease: string;
  /** Keys held under it. */
  readonly keys: number;
  /** Milliseconds before the store expires it unless a heartbeat arrives (undefined: gone). */
  readonly remainingMs: number | undefined;
  /** Its ttl as far as the reader can tell (the largest time left it has seen); undefined: gone. */
  readonly ttlMs?: number;
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
  /** `'etcd'` for an election in etcd's concurrency layout (`etcdctl elect`); absent for tenure's. */
  readonly layout?: 'etcd';
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
  /** `'etcd'` for a mutex in etcd's concurrency layout (`etcdctl lock`); absent for tenure's. */
  readonly layout?: 'etcd';
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
  /**
   * How the previous leader went, for a `leader` event after another (see inspect/failover.ts):
   * `expired` (its lease ran out: it crashed, froze or lost the store) or `let-go` (it resigned
   * or closed its session).
   */
  readonly departure?: 'expired' | 'let-go';
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

/** What the model knows of a lease, for suspicion (see LeaseTracker). */
export interface LeaseInfo {
  /** Milliseconds before the store expires it unless a heartbeat arrives (undefined: gone or unknown). */
  readonly remainingMs: number | undefined;
  /** The largest remaining ttl seen: the lease's ttl, as far as the reader can tell. */
  readonly maxRemainingMs: number | undefined;
}

/** Numbers shown to people and in JSON: two decimals are plenty for a ratio or a phi. */
const round2 = (x: number) => Math.round(x * 100) / 100;

function entryView(e: QueueEntry, mode?: 'read' | 'write'): EntryView {
  return {
    value: e.owner,
    ...(mode === undefined ? {} : { mode }),
    revision: e.token,
    lease: e.lease,
    key: e.key,
  };
}

/** The raw keys of a read, by bucket (see {@link INSPECT_BUCKETS}). */
export type KeysByPrefix = ReadonlyMap<string, readonly KeyValue[]>;

/**
 * The fleet in `kvs` (keys under {@link INSPECT_PREFIXES}, and the entries of etcd's concurrency
 * layout, read at `revision`, by bucket): every election,
 * lock, member (with lease-based and published suspicion) and slot map, and the keys no layout
 * could decode (the first {@link SKIPPED_LIST_LIMIT} listed, all counted). Elections' histories
 * and the events are the follower's: here they are empty. Pure.
 */
export function describeFleet(
  revision: number,
  kvs: KeysByPrefix,
  leases: (lease: string) => LeaseInfo | undefined,
): FleetSnapshot {
  const skipped = new UndecodedKeys(SKIPPED_LIST_LIMIT);
  const get = (p: string) => kvs.get(p) ?? [];
  const elections = electionLayout
    .describe(get(electionLayout.ELECTION_PREFIX), skipped)
    .elections.map((e): ElectionView => ({
      name: e.name,
      leader: e.leader && entryView(e.leader),
      term: e.term,
      candidates: e.candidates.map((c) => entryView(c)),
      history: [],
    }));
  const locks: LockView[] = [];
  // etcd's layout: a queue is a mutex or an election by its values (see etcd-layout.ts).
  for (const q of etcdLayout.describe(get(ETCD_LAYOUT_BUCKET)).queues) {
    const [first, ...rest] = q.entries.map((e) => entryView(e));
    if (q.kind === 'election')
      elections.push({
        name: q.name,
        leader: first,
        term: first?.revision,
        candidates: q.entries.map((e) => entryView(e)),
        history: [],
        layout: 'etcd',
      });
    else
      locks.push({
        name: q.name,
        kind: 'mutex',
        holders: first ? [first] : [],
        waiters: rest,
        layout: 'etcd',
      });
  }
  for (const m of mutexLayout.describe(get(mutexLayout.MUTEX_PREFIX), skipped).mutexes)
    locks.push({
      name: m.name,
      kind: 'mutex',
      holders: m.holder ? [entryView(m.holder)] : [],
      waiters: m.waiters.map((w) => entryView(w)),
    });
  for (const s of semaphoreLayout.describe(get(semaphoreLayout.SEMAPHORE_PREFIX), skipped).semaphores)
    locks.push({
      name: s.name,
      kind: 'semaphore',
      holders: s.holders.map((e) => entryView(e)),
      waiters: s.waiters.map((e) => entryView(e)),
      permits: s.permits,
      ...(s.permitsDeclared ? { permitsDeclared: s.permitsDeclared } : {}),
    });
  for (const r of rwlockLayout.describe(get(rwlockLayout.RWLOCK_PREFIX), skipped).rwlocks)
    locks.push({
      name: r.name,
      kind: 'rwlock',
      holders: r.holders.map((e) => entryView(e, e.mode)),
      waiters: r.waiters.map((e) => entryView(e, e.mode)),
    });

  const described = membershipLayout.describe(get(membershipLayout.MEMBERS_PREFIX), skipped).members;
  const live = new Set(described.map((m) => `${m.group}/${m.id}`));
  const { opinions } = suspicionLayout.describe(get(suspicionLayout.SUSPICION_PREFIX), skipped);
  const phis = suspicionLayout.highestPhi(opinions, (group, id) => live.has(`${group}/${id}`));
  const members = described.map((m): MemberView => {
    const lease = m.lease === null ? undefined : leases(m.lease);
    const left = lease?.remainingMs;
    const max = lease?.maxRemainingMs;
    const phi = phis.get(`${m.group}/${m.id}`);
    return {
      group: m.group,
      id: m.id,
      value: m.value,
      address: m.address,
      zone: m.zone,
      lease: m.lease,
      suspicion:
        left === undefined || max === undefined || max <= 0
          ? undefined
          : round2(Math.min(1, Math.max(0, 1 - left / max))),
      phi: phi === undefined ? undefined : round2(phi.phi),
      phiObservers: phi?.observers ?? 0,
      phiThreshold: phi?.threshold,
    };
  });

  // Each group's table states its slot count, and memory is bounded by it (at most 65,536),
  // never by an index read from the store. A group without a readable table is not drawn.
  const slots: SlotMapView[] = [];
  for (const d of describeGroups(get(SHARDS_PREFIX))) {
    skipped.merge(d);
    if (d.slots.length === 0) continue;
    slots.push({
      name: d.group,
      owners: d.slots.map((x) => x.holder ?? null),
      planned: d.slots.map((x) => x.planned ?? null),
      epoch: d.table?.modRevision,
    });
  }

  const leaseKeys = new Map<string, number>();
  for (const list of kvs.values())
    for (const kv of list) if (kv.lease !== null) leaseKeys.set(kv.lease, (leaseKeys.get(kv.lease) ?? 0) + 1);
  const sessions: SessionView[] = [...leaseKeys].map(([lease, keys]) => {
    const info = leases(lease);
    const ms = info?.remainingMs;
    const ttl = info?.maxRemainingMs;
    return {
      lease,
      keys,
      remainingMs: ms === undefined ? undefined : Math.round(ms),
      ...(ttl === undefined ? {} : { ttlMs: Math.round(ttl) }),
    };
  });

  return {
    revision,
    sessions,
    elections,
    locks,
    members,
    slots,
    skipped: skipped.undecoded,
    skippedCount: skipped.undecodedCount,
    events: [],
  };
}
