/**
 * A group's slots as the store shows them: the holder key of each slot and the committed table
 * (keys and values: shard-layout.ts). Both a member's ShardManager and a ShardRouter, which owns
 * nothing, keep one up to date from the prefix's watch; a ShardManager also records the writes it
 * committed itself ({@link SlotMap.recordTable}, {@link SlotMap.recordClaim}) so that it acts on
 * them before its watch delivers them.
 */
import { EventEmitter } from 'node:events';
import { TenureError, invalidArgument } from '../../errors.js';
import { slotOf, type SlotAssignment } from '../../hashing/index.js';
import type { KeyValue } from '../../store/types.js';
import {
  MAX_SLOT_COUNT,
  decodeSlotValue,
  decodeTable,
  describe,
  groupPrefix,
  parseKey,
  slotKey,
  tableKey,
  type ShardTable,
} from './shard-layout.js';

/**
 * @internal A slot count checked: an integer in 1..65536.
 * @throws TENURE_INVALID_ARGUMENT naming options.slotCount.
 */
export function checkSlotCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_SLOT_COUNT)
    throw invalidArgument(
      'options.slotCount',
      `must be an integer in 1..${MAX_SLOT_COUNT}, got ${String(value)}`,
    );
  return value;
}

/** What {@link SlotMap.see} found new. */
export type SlotMapChange = { readonly table: number } | { readonly slot: number } | undefined;

/** A slot's holder as last seen. */
interface SlotHolder {
  readonly holder: string;
  /** The holder key's create revision: the fencing token. */
  readonly token: number;
}

/** @internal The slot keys and table of one group, as last seen. */
export class SlotMap {
  readonly group: string;
  readonly slotCount: number;
  /** `shards/<group>/`: every key of the group. */
  readonly prefix: string;
  readonly tableKey: string;
  /** Slot → its holder, as last seen. */
  readonly #holders = new Map<number, SlotHolder>();
  #table: ShardTable | undefined;

  constructor(group: string, slotCount: number) {
    this.group = group;
    this.slotCount = slotCount;
    this.prefix = groupPrefix(group);
    this.tableKey = tableKey(group);
  }

  /** The newest table seen. */
  get table(): ShardTable | undefined {
    return this.#table;
  }

  slotKey(slot: number): string {
    return slotKey(this.group, slot, this.slotCount);
  }

  /**
   * Records a key read from the store (a watch's put, a failed txn's reads): a newer table, or a
   * slot's newer holder.
   * @throws TenureError `TENURE_CORRUPT` for a table this version cannot read (nothing changes).
   */
  see(kv: KeyValue): SlotMapChange {
    if (kv.key === this.tableKey) {
      if (this.#table !== undefined && kv.modRevision <= this.#table.modRevision) return undefined;
      this.#table = decodeTable(kv.value, this.slotCount, kv.modRevision);
      return { table: kv.modRevision };
    }
    const parsed = parseKey(this.group, kv.key, this.slotCount);
    if (parsed.kind !== 'slot') return undefined;
    return this.#hold(parsed.slot, decodeSlotValue(kv.value), kv.createRevision);
  }

  #hold(slot: number, holder: string, token: number): SlotMapChange {
    const had = this.#holders.get(slot);
    if (had !== undefined && token < had.token) return undefined;
    this.#holders.set(slot, { holder, token });
    return { slot };
  }

  /**
   * Replaces the view with a read of the whole group (the first read, or a resync after the watch
   * fell behind compaction): every holder as read, and the table if it is newer.
   * @returns the table's revision if it changed, and the errors of a table it could not read.
   */
  load(kvs: readonly KeyValue[]): { table: number | undefined; errors: TenureError[] } {
    const d = describe(kvs, { group: this.group, slotCount: this.slotCount });
    this.#holders.clear();
    for (const s of d.slots)
      if (s.holder !== undefined) this.#holders.set(s.slot, { holder: s.holder, token: s.token! });
    let table: number | undefined;
    if (
      d.table !== undefined &&
      (this.#table === undefined || d.table.modRevision > this.#table.modRevision)
    ) {
      this.#table = d.table;
      table = d.table.modRevision;
    }
    const errors = d.undecoded
      .filter((u) => u.key === this.tableKey)
      .map((u) => new TenureError('TENURE_CORRUPT', u.reason));
    return { table, errors };
  }

  /** Records the table this process has just committed at `modRevision`. */
  recordTable(assignment: SlotAssignment, membersRevision: number, modRevision: number): void {
    if (this.#table !== undefined && modRevision <= this.#table.modRevision) return;
    this.#table = { ...assignment, membersRevision, modRevision };
  }

  /** Records a slot key this process has just created for `holder`, with fencing token `token`. */
  recordClaim(slot: number, holder: string, token: number): void {
    this.#hold(slot, holder, token);
  }

  /** Records a watch's delete event; returns the slot whose key it was, if any. */
  forget(kv: KeyValue): number | undefined {
    const parsed = parseKey(this.group, kv.key, this.slotCount);
    if (parsed.kind !== 'slot') return undefined;
    const had = this.#holders.get(parsed.slot);
    if (had !== undefined && had.token < kv.modRevision) this.#holders.delete(parsed.slot);
    return parsed.slot;
  }

  /** Whether someone holds `slot`'s key, as last seen. */
  isHeld(slot: number): boolean {
    return this.#holders.has(slot);
  }

  /** The holder of `slot`, or undefined while it is between owners. */
  holderOf(slot: number): string | undefined {
    return this.#holders.get(slot)?.holder;
  }

  /** The fencing token of `slot`'s holder, or undefined while it is between owners. */
  tokenOf(slot: number): number | undefined {
    return this.#holders.get(slot)?.token;
  }

  /** The holder of `key`'s slot (see ShardManager.ownerOf). */
  ownerOf(key: string): string | undefined {
    return this.holderOf(slotOf(key, this.slotCount));
  }

  /** The member the table assigns `key`'s slot to. */
  plannedOwnerOf(key: string): string | undefined {
    const t = this.#table;
    return t === undefined ? undefined : t.nodes[t.owners[slotOf(key, this.slotCount)]!];
  }

  /** The holder of every slot (undefined for a slot between owners). */
  holderList(): (string | undefined)[] {
    const out: (string | undefined)[] = new Array<string | undefined>(this.slotCount).fill(undefined);
    for (const [slot, h] of this.#holders) out[slot] = h.holder;
    return out;
  }
}

/**
 * What every view of a group's slots answers, from its {@link SlotMap}: ShardManager (a member)
 * and ShardRouter (a router that owns nothing) route keys the same way.
 */
export abstract class SlotView<T extends Record<keyof T, unknown[]>> extends EventEmitter<T> {
  /**
   * @internal The slot keys and table as last seen. A router that learns the group's slot count
   * from its first table replaces it then.
   */
  protected slotMap: SlotMap;

  protected constructor(slotMap: SlotMap) {
    super();
    this.slotMap = slotMap;
  }

  /** Number of slots. */
  get slotCount(): number {
    return this.slotMap.slotCount;
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
