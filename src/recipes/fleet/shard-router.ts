/**
 * Routing keys to the members that own their slots, without taking part: for a gateway that
 * forwards requests, a client that picks a server, a dashboard. A router reads a group's slot
 * keys and table, then follows them with a watch. It holds no session and writes nothing, so any
 * number of routers can follow a group without changing it.
 */
import { clockOption, type Clock } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import type { KeyValue, Store, WatchBatch } from '../../store/types.js';
import { followPrefix } from '../follow-prefix.js';
import { checkName } from '../names.js';
import { decodeTable, groupPrefix, tableKey } from './shard-layout.js';
import { SHARD_DEFAULTS } from './shards.js';
import { checkSlotCount, SlotMap, SlotView } from './slot-map.js';

/** Options of {@link ShardRouter.open}. */
export interface ShardRouterOptions {
  /**
   * Number of slots: the group's members' `slotCount`. Given, it must match the count the group's
   * table states (if the group has one yet).
   * @default the count the group's table states. For a group with no table yet, 1024
   * (ShardManager's default) until the first table states another: `slotOf` answers by the
   * count of the moment, so give the count when routing must start before the group has a table.
   */
  slotCount?: number;
  /**
   * The clock the watch's retry backoff waits on (a router holds no session to take one from).
   * @default systemClock
   */
  clock?: Clock;
}

/** The slot count the group's table states, or undefined without a readable table. */
function statedSlotCount(kvs: readonly KeyValue[], key: string): number | undefined {
  const table = kvs.find((kv) => kv.key === key);
  if (table === undefined) return undefined;
  try {
    return decodeTable(table.value, undefined, table.modRevision).owners.length;
  } catch {
    return undefined; // the first load records it as undecodable, and the router does not route by it
  }
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
export class ShardRouter extends SlotView<ShardRouterEvents> {
  readonly store: Store;
  readonly group: string;
  readonly #ac = new AbortController();
  #revision: number;
  readonly #following: Promise<void>;
  /**
   * Opened without a slot count on a group with no table yet: the count is the default only until
   * the first table says otherwise.
   */
  #countFromTable: boolean;

  private constructor(
    store: Store,
    group: string,
    map: SlotMap,
    countFromTable: boolean,
    kvs: readonly KeyValue[],
    revision: number,
    clock: Clock,
  ) {
    super(map);
    this.store = store;
    this.group = group;
    this.#countFromTable = countFromTable;
    this.#revision = revision;
    this.#load(kvs, false);
    this.#following = followPrefix(store, map.prefix, this.#ac.signal, clock, {
      revision: () => this.#revision,
      apply: (batch) => this.#apply(batch),
      resync: async () => {
        const read = await store.range(map.prefix);
        const before = this.slotMap.holderList();
        this.#load(read.kvs, true);
        this.#revision = read.revision;
        this.slotMap.holderList().forEach((h, slot) => h !== before[slot] && this.emit('holder', slot, h));
      },
      onError: (err) => this.emit('storeError', err),
    });
  }

  /**
   * Reads the group's slots and starts following them.
   * @throws TENURE_INVALID_ARGUMENT for a bad store, group or slot count, or a slot count other
   * than the one the group's table states.
   */
  static async open(store: Store, group: string, options: ShardRouterOptions = {}): Promise<ShardRouter> {
    if (store === null || typeof store !== 'object' || typeof store.watch !== 'function')
      throw invalidArgument('store', 'must be a Store (see openStore)');
    checkName(group, 'group');
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    const clock = clockOption(options.clock);
    const given = options.slotCount === undefined ? undefined : checkSlotCount(options.slotCount);
    const read = await store.range(groupPrefix(group));
    const stated = statedSlotCount(read.kvs, tableKey(group));
    if (given !== undefined && stated !== undefined && given !== stated)
      throw invalidArgument(
        'options.slotCount',
        `is ${given}, but group ${JSON.stringify(group)} has ${stated} slots (its table says so); omit it to take the table's`,
      );
    const map = new SlotMap(group, given ?? stated ?? SHARD_DEFAULTS.slotCount);
    const countFromTable = given === undefined && stated === undefined;
    return new ShardRouter(store, group, map, countFromTable, read.kvs, read.revision, clock);
  }

  /** The store revision the view is current to. */
  get revision(): number {
    return this.#revision;
  }

  /** The fencing token of `slot`'s current holder (its key's create revision), or undefined. */
  tokenOf(slot: number): number | undefined {
    return this.slotMap.tokenOf(slot);
  }

  /**
   * Takes the slot count of the group's first table, when this router was opened before there was
   * one and without a count (before any table, no slot key is held: nothing is lost).
   */
  #adoptCount(kvs: readonly KeyValue[]): void {
    if (!this.#countFromTable) return;
    const stated = statedSlotCount(kvs, this.slotMap.tableKey);
    if (stated === undefined) return;
    this.#countFromTable = false;
    if (stated !== this.slotMap.slotCount) this.slotMap = new SlotMap(this.group, stated);
  }

  /** Adopts a read of the whole group; `emitTable`: report a newer table (not at open: no listener yet). */
  #load(kvs: readonly KeyValue[], emitTable: boolean): void {
    this.#adoptCount(kvs);
    const { table, errors } = this.slotMap.load(kvs);
    for (const err of errors) this.emit('storeError', err);
    if (table !== undefined && emitTable) this.emit('table', table);
  }

  #see(kv: KeyValue): void {
    this.#adoptCount([kv]);
    try {
      const change = this.slotMap.see(kv);
      if (change === undefined) return;
      if ('table' in change) this.emit('table', change.table);
      else this.emit('holder', change.slot, this.slotMap.holderOf(change.slot));
    } catch (err) {
      this.emit('storeError', err);
    }
  }

  #apply(batch: WatchBatch): void {
    for (const e of batch.events) {
      if (e.type === 'put') this.#see(e.kv);
      else {
        const slot = this.slotMap.forget(e.kv);
        if (slot !== undefined && !this.slotMap.isHeld(slot)) this.emit('holder', slot, undefined);
      }
    }
    this.#revision = Math.max(this.#revision, batch.revision);
  }

  /** Stops following. Idempotent; the store stays open. */
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#following;
  }

  /**
   * Stops following the slot map, as `close()` does, when an `await using` declaration leaves its
   * scope. Idempotent; the store stays open.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
