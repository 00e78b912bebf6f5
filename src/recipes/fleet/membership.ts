/**
 * Group membership over the store: a member is a key `members/<group>/<id>` attached to its
 * session's lease, so it disappears when the member leaves (the key is deleted at once) or
 * crashes (the lease expires, at most ttl + the store's expiry bound after its last heartbeat).
 * Everyone watching the group's prefix sees the same joins and leaves, in the same (revision)
 * order.
 *
 * Membership says who holds a live lease, nothing more: a member whose process is overloaded
 * but still heartbeating stays a member. Use {@link HeartbeatMesh} for an advisory, faster
 * opinion on peers' health.
 */
import { EventEmitter } from 'node:events';
import { clockOption, type Clock } from '../../clock.js';
import { TenureError, invalidArgument, isTenureError } from '../../errors.js';
import type { KeyValue, Store, StoreCapabilities, WatchBatch } from '../../store/types.js';
import { checkSignal } from '../../store/validate.js';
import { EventBuffers, type ObservedIterator } from '../event-buffer.js';
import { followPrefix } from '../follow-prefix.js';
import { Holding, type HoldingStatus } from '../coordination/holding.js';
import { decodeMember, encodeMemberValue, groupPrefix, memberId, memberKey } from './membership-layout.js';
import { checkName } from '../names.js';
import type { Session } from '../coordination/session.js';

/** What a member says about itself when it joins. */
export interface MemberMetadata {
  /** Unique id in the group (1–128 letters, digits, `. _ : @ -`). */
  id: string;
  /** Where peers reach it, `host:port` (used by the heartbeat mesh). @default none */
  address?: string;
  /** Relative capacity for shard assignment: a finite number > 0. @default 1 */
  weight?: number;
  /** Failure domain (rack, availability zone), for placement and dashboards. @default none */
  zone?: string;
  /**
   * Free-form data, stored as JSON with the rest of the metadata: it must be JSON-serialisable
   * (no BigInt, no cycles), and the whole encoding must fit the store's
   * `capabilities.maxValueBytes` (1 MiB on every backend today).
   * Keep it small: every member's data is sent to every watcher on each change. @default none
   */
  data?: unknown;
}

/** A live member as seen by everyone. */
export interface MemberInfo {
  readonly id: string;
  readonly address: string | undefined;
  readonly weight: number;
  readonly zone: string | undefined;
  readonly data: unknown;
  /** The revision at which it joined: later joins of the same id have higher ones. */
  readonly joinRevision: number;
  /** The lease its key is attached to. */
  readonly lease: string | null;
}

/** A change of the live set. */
export interface MembershipEvent {
  readonly type: 'join' | 'leave';
  readonly member: MemberInfo;
  /** The store revision of the change. */
  readonly revision: number;
  /** Events dropped just before this one because the consumer of `observe()` was slow. */
  readonly skipped: number;
}

/** Events of a {@link Membership}. */
export interface MembershipEvents {
  /** A member joined. */
  join: [member: MemberInfo, revision: number];
  /** A member left (closed, crashed and its lease expired, or its key was deleted). */
  leave: [member: MemberInfo, revision: number];
  /** The live set changed; emitted once per watch batch, after its joins and leaves. */
  change: [members: readonly MemberInfo[], revision: number];
  /** The watch failed and will be retried (the view may be stale meanwhile). */
  watchError: [error: unknown];
}

/** Options of {@link Membership.open}. */
export interface MembershipOptions {
  /**
   * Events an `observe()` iterator buffers before dropping the oldest (counted in `skipped`).
   * @default 1000 — a thousand joins and leaves: a whole fleet restarting, twice over.
   */
  bufferSize?: number;
  /** Aborts the initial read. */
  signal?: AbortSignal;
  /**
   * The clock the watch's retry backoff waits on. Pass a ManualClock to drive it in a test.
   * @default systemClock
   */
  clock?: Clock;
}

/** Defaults of {@link MembershipOptions}. */
export const MEMBERSHIP_DEFAULTS = Object.freeze({ bufferSize: 1000 });

/** A member key as a member; undefined for one this version does not understand (ignored). */
function parseMember(kv: KeyValue, group: string): MemberInfo | undefined {
  const m = decodeMember(group, kv);
  return m && Object.freeze(m);
}

/**
 * The stored value of a member key, checked: data that JSON cannot encode (a BigInt, a cycle) and
 * a value larger than the store takes are refused as TENURE_INVALID_ARGUMENT naming `<name>.data`
 * (the caller's own word: `metadata` for join, `changes` for update), before anything is written.
 */
function encodeMetadata(meta: MemberMetadata, caps: StoreCapabilities, name: string): string {
  let value: string;
  try {
    value = encodeMemberValue(meta);
  } catch (err) {
    throw new TenureError(
      'TENURE_INVALID_ARGUMENT',
      `${name}.data must be JSON-serialisable (no BigInt, no cycles): ${(err as Error).message}`,
      { cause: err, details: { argument: `${name}.data` } },
    );
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > caps.maxValueBytes)
    throw invalidArgument(
      `${name}.data`,
      `is too large: the member's metadata encodes to ${bytes} bytes of JSON and the ${caps.backend} store takes at most ${caps.maxValueBytes} bytes (capabilities.maxValueBytes)`,
      { sizeBytes: bytes, maxBytes: caps.maxValueBytes },
    );
  return value;
}

function checkMetadata(meta: MemberMetadata): void {
  if (meta === null || typeof meta !== 'object') throw invalidArgument('metadata', 'must be an object');
  checkName(meta.id, 'metadata.id');
  if (meta.address !== undefined && (typeof meta.address !== 'string' || !/^.+:\d{1,5}$/.test(meta.address)))
    throw invalidArgument('metadata.address', `must be "host:port", got ${JSON.stringify(meta.address)}`);
  if (
    meta.weight !== undefined &&
    (typeof meta.weight !== 'number' || !(meta.weight > 0) || !Number.isFinite(meta.weight))
  )
    throw invalidArgument('metadata.weight', `must be a finite number > 0, got ${String(meta.weight)}`);
  if (meta.zone !== undefined && typeof meta.zone !== 'string')
    throw invalidArgument('metadata.zone', 'must be a string');
}

/**
 * The live members of a group, kept current by a watch.
 *
 * `observe()` never blocks the watch: each iterator buffers up to `bufferSize` events and then
 * drops the oldest, reporting how many on the next event (`skipped`). The `change` event and
 * {@link Membership.members} always show the current set, whatever was skipped.
 *
 * @example
 * ```ts
 * const membership = await Membership.open(store, 'workers');
 * await using me = await membership.join(session, { id: 'w1', address: '10.0.0.5:7946', zone: 'a' });
 * membership.on('leave', (m) => console.log(`${m.id} left`));
 * for await (const e of membership.observe({ signal })) console.log(e.type, e.member.id);
 * ```
 */
export class Membership extends EventEmitter<MembershipEvents> {
  /** The store. */
  readonly store: Store;
  /** The group name. */
  readonly group: string;
  /** The key prefix of the group's members. */
  readonly prefix: string;
  readonly #bufferSize: number;
  readonly #members = new Map<string, MemberInfo>();
  readonly #buffers = new EventBuffers<MembershipEvent>();
  readonly #ac = new AbortController();
  readonly #clock: Clock;
  #revision: number;
  #closed = false;
  #sorted: readonly MemberInfo[] | undefined;

  private constructor(
    store: Store,
    group: string,
    bufferSize: number,
    initial: readonly KeyValue[],
    revision: number,
    clock: Clock,
  ) {
    super();
    this.#clock = clock;
    this.store = store;
    this.group = group;
    this.prefix = groupPrefix(group);
    this.#bufferSize = bufferSize;
    this.#revision = revision;
    for (const kv of initial) {
      const m = parseMember(kv, group);
      if (m) this.#members.set(m.id, m);
    }
    void this.#watch();
  }

  /**
   * Reads the group and starts watching it.
   * @throws TENURE_INVALID_ARGUMENT for a bad group name or option.
   */
  static async open(store: Store, group: string, options: MembershipOptions = {}): Promise<Membership> {
    if (store === null || typeof store !== 'object' || typeof store.watch !== 'function')
      throw invalidArgument('store', 'must be a Store (see openStore)');
    checkName(group, 'group');
    checkSignal(options.signal, 'options.signal');
    const clock = clockOption(options.clock);
    const bufferSize = options.bufferSize ?? MEMBERSHIP_DEFAULTS.bufferSize;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1)
      throw invalidArgument('options.bufferSize', `must be an integer ≥ 1, got ${String(bufferSize)}`);
    const read = await store.range(groupPrefix(group));
    return new Membership(store, group, bufferSize, read.kvs, read.revision, clock);
  }

  /** The store revision the view is current to. */
  get revision(): number {
    return this.#revision;
  }

  /** The live members, sorted by id. */
  members(): readonly MemberInfo[] {
    this.#sorted ??= Object.freeze(
      [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
    return this.#sorted;
  }

  /** A live member by id. */
  get(id: string): MemberInfo | undefined {
    return this.#members.get(id);
  }

  /**
   * Joins the group under `session`: puts `members/<group>/<id>` attached to the session's lease
   * if no live member has that id.
   * @throws TENURE_MEMBER_EXISTS (retryable) if a live member already has the id;
   * retryable: it frees when that member leaves or its session expires.
   * @throws TENURE_INVALID_ARGUMENT for bad metadata, named (`metadata.data` for data that JSON
   * cannot encode or that is over the store's size limit, with `details.maxBytes`).
   * @throws TENURE_SESSION_EXPIRED / TENURE_CLOSED if the session is gone.
   */
  async join(session: Session, metadata: MemberMetadata): Promise<Member> {
    checkMetadata(metadata);
    if (session.store !== this.store)
      throw invalidArgument('session', 'must live in the same store as the membership');
    session.throwIfDead();
    const key = memberKey(this.group, metadata.id);
    const value = encodeMetadata(metadata, this.store.capabilities, 'metadata');
    let res;
    try {
      res = await this.store.txn({
        compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
        success: [{ type: 'put', key, value, lease: session.lease }],
        failure: [{ type: 'get', key }],
      });
    } catch (err) {
      if (isTenureError(err, 'TENURE_LEASE_NOT_FOUND')) session.throwIfDead();
      throw err;
    }
    if (!res.succeeded) {
      const got = res.results[0];
      const holder = got?.type === 'get' ? got.kvs[0] : undefined;
      throw new TenureError(
        'TENURE_MEMBER_EXISTS',
        `member id "${metadata.id}" is already live in group "${this.group}" (lease ${holder?.lease ?? '?'}): ` +
          'pick another id, or retry once that member has left or its session expired',
        {
          details: {
            id: metadata.id,
            group: this.group,
            lease: holder?.lease ?? null,
          },
        },
      );
    }
    const info = parseMember(
      {
        key,
        value: new TextEncoder().encode(value),
        createRevision: res.revision,
        modRevision: res.revision,
        version: 1,
        lease: session.lease,
      },
      this.group,
    )!;
    return new Member(
      session,
      key,
      info,
      new Holding(
        session,
        { key, createRevision: res.revision, queue: [] },
        res.revision,
        `membership of ${metadata.id} in ${this.group}`,
      ),
    );
  }

  /**
   * An async iterator of joins and leaves from now on. Never blocks the watch: a slow consumer
   * loses the oldest buffered events (counted in `skipped`). With `initial: true` it first
   * yields a join for every current member.
   */
  observe(options: { signal?: AbortSignal; initial?: boolean } = {}): ObservedIterator<MembershipEvent> {
    checkSignal(options.signal, 'options.signal');
    const initial = options.initial
      ? this.members().map((member) => ({
          type: 'join' as const,
          member,
          revision: this.#revision,
          skipped: 0,
        }))
      : [];
    return this.#buffers.subscribe(
      this.#bufferSize,
      options.signal,
      (e, skipped) => ({ ...e, skipped }),
      initial,
    );
  }

  #apply(batch: WatchBatch): void {
    let changed = false;
    for (const e of batch.events) {
      const id = memberId(this.group, e.kv.key) ?? '';
      const rev = e.kv.modRevision;
      if (e.type === 'put') {
        const m = parseMember(e.kv, this.group);
        if (!m) continue;
        const had = this.#members.get(id);
        this.#members.set(id, m);
        this.#sorted = undefined;
        changed = true;
        if (had && had.joinRevision === m.joinRevision) continue; // a metadata update
        if (had) this.#emitChange('leave', had, rev);
        this.#emitChange('join', m, rev);
      } else {
        const had = this.#members.get(id);
        if (!had) continue;
        this.#members.delete(id);
        changed = true;
        this.#emitChange('leave', had, rev);
      }
    }
    this.#revision = Math.max(this.#revision, batch.revision);
    if (changed) this.emit('change', this.members(), this.#revision);
  }

  #emitChange(type: 'join' | 'leave', member: MemberInfo, revision: number): void {
    this.#sorted = undefined;
    this.#buffers.push({ type, member, revision, skipped: 0 });
    this.emit(type, member, revision);
  }

  /** Re-reads the whole group after the watch fell behind compaction, emitting the differences. */
  async #resync(): Promise<void> {
    const read = await this.store.range(this.prefix);
    const seen = new Set<string>();
    const events: WatchBatch['events'][number][] = [];
    for (const kv of read.kvs) {
      const id = memberId(this.group, kv.key) ?? '';
      seen.add(id);
      const had = this.#members.get(id);
      if (!had || had.joinRevision !== kv.createRevision) {
        if (had) events.push({ type: 'delete', kv: { ...kv, modRevision: read.revision } });
        events.push({ type: 'put', kv: { ...kv, modRevision: read.revision } });
      }
    }
    for (const [id] of this.#members)
      if (!seen.has(id))
        events.push({
          type: 'delete',
          kv: {
            key: memberKey(this.group, id),
            value: new Uint8Array(),
            createRevision: 0,
            modRevision: read.revision,
            version: 0,
            lease: null,
          },
        });
    this.#apply({ events, revision: read.revision });
  }

  async #watch(): Promise<void> {
    await followPrefix(this.store, this.prefix, this.#ac.signal, this.#clock, {
      revision: () => this.#revision,
      apply: (batch) => this.#apply(batch),
      resync: () => this.#resync(),
      onError: (err) => this.emit('watchError', err),
    });
    this.#buffers.endAll();
  }

  /** Stops watching; iterators end. Does not make anyone leave. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ac.abort(new TenureError('TENURE_CLOSED', `membership view of ${this.group} was closed`));
    this.#buffers.endAll();
  }

  /**
   * Stops watching, as `close()` does, when an `await using` declaration leaves its scope. Does not
   * make anyone leave. Idempotent.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Where a member is in its life: the status of its key (see HoldingStatus). */
export type MemberStatus = HoldingStatus;

/**
 * This process's membership of a group. `signal` aborts when it is lost (session expired, key
 * deleted) or left; {@link Member.close} leaves at once.
 */
export class Member {
  /** The session the membership lives under. */
  readonly session: Session;
  readonly #key: string;
  #info: MemberInfo;
  readonly #hold: Holding;

  /** @internal */
  constructor(session: Session, key: string, info: MemberInfo, hold: Holding) {
    this.session = session;
    this.#key = key;
    this.#info = info;
    this.#hold = hold;
  }

  /** How the others see this member (as of its join or its last {@link Member.update}). */
  get info(): MemberInfo {
    return this.#info;
  }

  /**
   * Changes what this member says about itself, without leaving: a new address, a lower weight to
   * shed slots before a shutdown, a zone. Fields left out keep their values; the others see the
   * change as a `change` event (not a leave and a join), and ShardManagers replan on a new weight.
   * @throws TENURE_INVALID_ARGUMENT for bad metadata (named: `changes.data` for data that JSON
   * cannot encode or that is over the store's size limit, with `details.maxBytes`).
   * @throws TENURE_MEMBER_LOST if the membership has ended (it left, or its key is gone or belongs
   * to a later join); TENURE_SESSION_EXPIRED / TENURE_CLOSED if the session is gone.
   */
  async update(changes: Omit<MemberMetadata, 'id'>): Promise<MemberInfo> {
    if (changes === null || typeof changes !== 'object')
      throw invalidArgument('changes', 'must be an object');
    const { id, address, weight, zone, data } = this.#info;
    const next: MemberMetadata = { address, weight, zone, data, ...changes, id };
    checkMetadata(next);
    const value = encodeMetadata(next, this.session.store.capabilities, 'changes');
    this.session.throwIfDead();
    if (this.status !== 'held') throw this.#lost(`has left (status ${this.status})`);
    const res = await this.session.store.txn({
      compare: [{ key: this.#key, target: 'createRevision', op: '=', value: this.#info.joinRevision }],
      success: [{ type: 'put', key: this.#key, value, lease: this.session.lease }],
    });
    if (!res.succeeded) {
      this.session.throwIfDead();
      throw this.#lost('was lost: its key was deleted');
    }
    this.#info = Object.freeze({ ...this.#info, ...next, weight: next.weight ?? 1 });
    return this.#info;
  }

  #lost(what: string): TenureError {
    const { id } = this.#info;
    return new TenureError('TENURE_MEMBER_LOST', `member ${id} ${what}: join again to be a member`, {
      details: { id, status: this.status },
    });
  }

  /** The member id. */
  get id(): string {
    return this.info.id;
  }

  /** `held` while a member; `released` after close; `lost` if the session expired or the key was deleted. */
  get status(): MemberStatus {
    return this.#hold.status;
  }

  /** Aborts when the membership ends: TENURE_SESSION_EXPIRED, TENURE_LOCK_LOST, or TENURE_CLOSED on close. */
  get signal(): AbortSignal {
    return this.#hold.signal;
  }

  /** Leaves the group now: deletes the member key (others see the leave within one watch delivery). Idempotent. */
  close(): Promise<void> {
    return this.#hold.close();
  }

  /**
   * Leaves the group, as `close()` does (the member key is deleted), when an `await using`
   * declaration leaves its scope. Idempotent.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
