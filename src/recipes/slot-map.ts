/**
 * A group's slots as the store shows them: the holder key of each slot
 * (`shards/<group>/slot/<s>`) and the committed table (`shards/<group>/table`). Both a member's
 * ShardManager and a ShardRouter, which owns nothing, keep one up to date from the prefix's
 * watch.
 */
import { EventEmitter } from 'node:events';
import { invalidArgument } from '../errors.js';
import { slotOf } from '../hashing/index.js';
import type { KeyValue } from '../store/types.js';
import { PREFIX } from './names.js';
import { decodeTable, type ShardTable } from './shard-table.js';

const decoder = new TextDecoder();

/**
 * @internal A slot count checked: an integer in 1..65536.
 * @throws TENURE_INVALID_ARGUMENT naming options.slotCount.
 */
export function checkSlotCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 65_536)
    throw invalidArgument('options.slotCount', `must be an integer in 1..65536, got ${String(value)}`);
  return value;
}

/** What {@link SlotMap.see} found new. */
export type SlotMapChange = { readonly table: number } | { readonly slot: number } | undefined;

/** @internal The slot keys and table of one group, as last seen. */
export class SlotMap {
  readonly slotCount: number;
  /** `shards/<group>/`: every key of the group. */
  readonly prefix: string;
  readonly tableKey: string;
  readonly #slotPrefix: string;
  readonly #width: number;
  /** Slot → the current holder's key, as last seen. */
  readonly holders = new Map<number, KeyValue>();
  /** The newest table seen. */
  table: ShardTable | undefined;

  constructor(group: string, slotCount: number) {
    this.slotCount = slotCount;
    this.prefix = `${PREFIX.shards}${group}/`;
    this.tableKey = `${this.prefix}table`;
    this.#slotPrefix = `${this.prefix}slot/`;
    this.#width = String(slotCount - 1).length;
  }

  slotKey(slot: number): string {
    return this.#slotPrefix + String(slot).padStart(this.#width, '0');
  }

  slotOfKey(key: string): number | undefined {
    if (!key.startsWith(this.#slotPrefix)) return undefined;
    const n = Number(key.slice(this.#slotPrefix.length));
    return Number.isSafeInteger(n) && n >= 0 && n < this.slotCount ? n : undefined;
  }

  /**
   * Records a key seen in the store (a read, a watch's put, a failed txn's reads): a newer table,
   * or a slot's newer holder.
   * @throws TenureError `TENURE_CORRUPT` for a table this version cannot read (nothing changes).
   */
  see(kv: KeyValue): SlotMapChange {
    if (kv.key === this.tableKey) {
      if (this.table !== undefined && kv.modRevision <= this.table.modRevision) return undefined;
      this.table = decodeTable(kv.value, this.slotCount, kv.modRevision);
      return { table: kv.modRevision };
    }
    const slot = this.slotOfKey(kv.key);
    if (slot === undefined) return undefined;
    const had = this.holders.get(slot);
    if (had !== undefined && kv.createRevision < had.createRevision) return undefined;
    this.holders.set(slot, kv);
    return { slot };
  }

  /** Records a watch's delete event; returns the slot whose key it was, if any. */
  forget(kv: KeyValue): number | undefined {
    const slot = this.slotOfKey(kv.key);
    if (slot === undefined) return undefined;
    const had = this.holders.get(slot);
    if (had !== undefined && had.createRevision < kv.modRevision) this.holders.delete(slot);
    return slot;
  }

  /** The holder of `slot`, or undefined while it is between owners. */
  holderOf(slot: number): string | undefined {
    const kv = this.holders.get(slot);
    return kv === undefined ? undefined : decoder.decode(kv.value);
  }

  /** The holder of `key`'s slot (see ShardManager.ownerOf). */
  ownerOf(key: string): string | undefined {
    return this.holderOf(slotOf(key, this.slotCount));
  }

  /** The member the table assigns `key`'s slot to. */
  plannedOwnerOf(key: string): string | undefined {
    const t = this.table;
    return t === undefined ? undefined : t.nodes[t.owners[slotOf(key, this.slotCount)]!];
  }

  /** The holder of every slot (undefined for a slot between owners). */
  holderList(): (string | undefined)[] {
    const out: (string | undefined)[] = new Array<string | undefined>(this.slotCount).fill(undefined);
    for (const [slot, kv] of this.holders) out[slot] = decoder.decode(kv.value);
    return out;
  }
}

/**
 * What every view of a group's slots answers, from its {@link SlotMap}: ShardManager (a member)
 * and ShardRouter (a router that owns nothing) route keys the same way.
 */
export abstract class SlotView<T extends Record<keyof T, unknown[]>> extends EventEmitter<T> {
  /** Number of slots. */
  readonly slotCount: number;
  /** @internal The slot keys and table as last seen. */
  protected readonly slotMap: SlotMap;

  protected constructor(slotMap: SlotMap) {
    super();
    this.slotMap = slotMap;
    this.slotCount = slotMap.slotCount;
  }

  /** The slot of a key (the same in every process for the same slot count). */
  slotOf(key: string): number {
    return slotOf(key, this.slotCount);
  }

  /**
   * The member that holds `key`'s slot now, as this process last saw the store; undefined while
   * the slot is between owners. For routing: the answer may be one watch delivery stale, so the
   * owner must still check its own signal (and the resource the fencing token).
   */
  ownerOf(key: string): string | undefined {
    return this.slotMap.ownerOf(key);
  }

  /** The member the current table assigns `key`'s slot to (where it is, or is moving to). */
  plannedOwnerOf(key: string): string | undefined {
    return this.slotMap.plannedOwnerOf(key);
  }

  /** The holder of every slot, as last seen (undefined for a slot between owners). */
  holders(): (string | undefined)[] {
    return this.slotMap.holderList();
  }

  /** The committed table's mod revision (0 before any). */
  get tableRevision(): number {
    return this.slotMap.table?.modRevision ?? 0;
  }

  /** The members the committed table assigns slots to, sorted by id (empty before any table). */
  get tableMembers(): readonly string[] {
    return this.slotMap.table?.nodes ?? [];
  }
}
