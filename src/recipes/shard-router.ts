/**
 * Routing keys to the members that own their slots, without taking part: for a gateway that
 * forwards requests, a client that picks a server, a dashboard. A router reads a group's slot
 * keys and table, then follows them with a watch. It holds no session and writes nothing, so any
 * number of routers can follow a group without changing it.
 */
import { EventEmitter } from 'node:events';
import { invalidArgument } from '../errors.js';
import { slotOf } from '../hashing/index.js';
import type { KeyValue, Store, WatchBatch } from '../store/types.js';
import { followPrefix } from './follow-prefix.js';
import { checkName } from './names.js';
import { SHARD_DEFAULTS } from './shards.js';
import { checkSlotCount, SlotMap } from './slot-map.js';

/** Options of {@link ShardRouter.open}. */
export interface ShardRouterOptions {
  /** Number of slots: the group's members' `slotCount`. @default 1024 (ShardManager's default) */
  slotCount?: number;
}

/** Events of a {@link ShardRouter}. */
export interface ShardRouterEvents {
  /** A slot's holder changed: `holder` is the new one, or undefined while the slot moves. */
  holder: [slot: number, holder: string | undefined];
  /** A new table was seen (`revision` is its mod revision). */
  table: [revision: number];
  /** A store call failed, or a table could not be read; the router retries. */
  storeError: [error: unknown];
}

/**
 * A read-only view of a group's slots, kept current.
 *
 * @example
 * ```ts
 * await using router = await ShardRouter.open(store, 'orders');
 * const owner = router.ownerOf('order:42'); // a member id, or undefined while the slot moves
 * ```
 */
export class ShardRouter extends EventEmitter<ShardRouterEvents> {
  readonly store: Store;
  readonly group: string;
  readonly slotCount: number;
  readonly #map: SlotMap;
  readonly #ac = new AbortController();
  #revision: number;
  readonly #following: Promise<void>;

  private constructor(store: Store, group: string, map: SlotMap, kvs: readonly KeyValue[], revision: number) {
    super();
    this.store = store;
    this.group = group;
    this.slotCount = map.slotCount;
    this.#map = map;
    this.#revision = revision;
    for (const kv of kvs) this.#see(kv);
    this.#following = followPrefix(store, map.prefix, this.#ac.signal, {
      revision: () => this.#revision,
      apply: (batch) => this.#apply(batch),
      resync: async () => {
        const read = await store.range(map.prefix);
        const before = map.holderList();
        map.holders.clear();
        for (const kv of read.kvs) this.#see(kv, false);
        this.#revision = read.revision;
        map.holderList().forEach((h, slot) => h !== before[slot] && this.emit('holder', slot, h));
      },
      onError: (err) => this.emit('storeError', err),
    });
  }

  /**
   * Reads the group's slots and starts following them.
   * @throws TENURE_INVALID_ARGUMENT for a bad store, group or slot count.
   */
  static async open(store: Store, group: string, options: ShardRouterOptions = {}): Promise<ShardRouter> {
    if (store === null || typeof store !== 'object' || typeof store.watch !== 'function')
      throw invalidArgument('store', 'must be a Store (see openStore)');
    checkName(group, 'group');
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    const map = new SlotMap(group, checkSlotCount(options.slotCount ?? SHARD_DEFAULTS.slotCount));
    const read = await store.range(map.prefix);
    return new ShardRouter(store, group, map, read.kvs, read.revision);
  }

  /** The store revision the view is current to. */
  get revision(): number {
    return this.#revision;
  }

  /** The slot of a key (the same as every member's for the same slot count). */
  slotOf(key: string): number {
    return slotOf(key, this.slotCount);
  }

  /**
   * The member that holds `key`'s slot now, as this router last saw the store; undefined while
   * the slot is between owners. The answer may be one watch delivery stale: the owner checks its
   * own signal, and the resource the fencing token.
   */
  ownerOf(key: string): string | undefined {
    return this.#map.ownerOf(key);
  }

  /** The member the current table assigns `key`'s slot to (where it is, or is moving to). */
  plannedOwnerOf(key: string): string | undefined {
    return this.#map.plannedOwnerOf(key);
  }

  /** The holder of every slot, as last seen (undefined for a slot between owners). */
  holders(): (string | undefined)[] {
    return this.#map.holderList();
  }

  /** The fencing token of `slot`'s current holder (its key's create revision), or undefined. */
  tokenOf(slot: number): number | undefined {
    return this.#map.holders.get(slot)?.createRevision;
  }

  /** The committed table's mod revision (0 before any). */
  get tableRevision(): number {
    return this.#map.table?.modRevision ?? 0;
  }

  /** The members the committed table assigns slots to, sorted by id (empty before any table). */
  get tableMembers(): readonly string[] {
    return this.#map.table?.nodes ?? [];
  }

  #see(kv: KeyValue, emit = true): void {
    try {
      const change = this.#map.see(kv);
      if (change === undefined || !emit) return;
      if ('table' in change) this.emit('table', change.table);
      else this.emit('holder', change.slot, this.#map.holderOf(change.slot));
    } catch (err) {
      this.emit('storeError', err);
    }
  }

  #apply(batch: WatchBatch): void {
    for (const e of batch.events) {
      if (e.type === 'put') this.#see(e.kv);
      else {
        const slot = this.#map.forget(e.kv);
        if (slot !== undefined && !this.#map.holders.has(slot)) this.emit('holder', slot, undefined);
      }
    }
    this.#revision = Math.max(this.#revision, batch.revision);
  }

  /** Stops following. Idempotent; the store stays open. */
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#following;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
