/**
 * The store layout of ShardManager groups: the one place that knows their keys and values.
 *
 * ```
 * shards/<group>/table        the committed table (JSON, see encodeTable), replaced by CAS
 * shards/<group>/slot/<s>     the holder of slot s: value = member id, under its session's lease,
 *                             create revision = the slot's fencing token; <s> is zero-padded to
 *                             the width of slotCount - 1 (slot 7 of 256 is `slot/007`)
 * ```
 *
 * The recipe (ShardManager, SlotMap, ShardRouter) builds and parses keys here; every other reader
 * (tests, benchmarks, the dashboard, the demo) decodes a group with {@link describe} instead of
 * slicing keys itself, so a change of layout is a change of this file.
 * @internal
 */
import type { SlotAssignment } from '../../hashing/index.js';
import { TenureError } from '../../errors.js';
import type { KeyValue } from '../../store/types.js';
import { PREFIX } from '../names.js';
import { UndecodedKeys, type UndecodedKey } from '../undecoded-keys.js';

/** The most slots a group may have (and the most a table may claim before anything is allocated). */
export const MAX_SLOT_COUNT = 65_536;

export { MAX_UNDECODED, type UndecodedKey } from '../undecoded-keys.js';

// ---- keys ----

/** `shards/`: every key of every group. */
export const SHARDS_PREFIX: string = PREFIX.shards;

/** `shards/<group>/`: every key of one group (the prefix a reader ranges and watches). */
export function groupPrefix(group: string): string {
  return `${SHARDS_PREFIX}${group}/`;
}

/** `shards/<group>/table`. */
export function tableKey(group: string): string {
  return `${groupPrefix(group)}table`;
}

/** `shards/<group>/slot/`: the slot keys of one group. */
export function slotKeyPrefix(group: string): string {
  return `${groupPrefix(group)}slot/`;
}

/** Digits of a slot index in a key: the width of `slotCount - 1`. */
function slotWidth(slotCount: number): number {
  return String(slotCount - 1).length;
}

/** `shards/<group>/slot/<s>`, with `s` zero-padded for `slotCount` slots. */
export function slotKey(group: string, slot: number, slotCount: number): string {
  return slotKeyPrefix(group) + String(slot).padStart(slotWidth(slotCount), '0');
}

/** What a key of a group is. */
export type ShardKey =
  | { readonly kind: 'table' }
  | { readonly kind: 'slot'; readonly slot: number }
  | { readonly kind: 'undecodable'; readonly reason: string };

/**
 * Classifies a key of `group` (a key that is not under `shards/<group>/` is `undecodable`).
 * A slot key decodes only in its canonical form for `slotCount` (decimal digits, padded to the
 * width of `slotCount - 1`, below `slotCount`), so that two spellings can never name one slot;
 * without a slot count (`undefined`) no slot key decodes.
 */
export function parseKey(group: string, key: string, slotCount: number | undefined): ShardKey {
  const prefix = groupPrefix(group);
  if (!key.startsWith(prefix)) return { kind: 'undecodable', reason: `not a key of group ${group}` };
  const rest = key.slice(prefix.length);
  if (rest === 'table') return { kind: 'table' };
  if (!rest.startsWith('slot/')) return { kind: 'undecodable', reason: 'neither the table nor a slot key' };
  const digits = rest.slice('slot/'.length);
  if (slotCount === undefined)
    return {
      kind: 'undecodable',
      reason: 'slot key of a group whose slot count is unknown (no readable table)',
    };
  // Checked as text first: no number is made from a string longer than a slot index can be.
  if (digits.length !== slotWidth(slotCount) || !/^[0-9]+$/.test(digits))
    return {
      kind: 'undecodable',
      reason: `slot index ${JSON.stringify(digits.slice(0, 16))} is not ${slotWidth(slotCount)} decimal digits`,
    };
  const slot = Number(digits);
  if (slot >= slotCount)
    return { kind: 'undecodable', reason: `slot index ${slot} is not below the slot count ${slotCount}` };
  return { kind: 'slot', slot };
}

// ---- values ----

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The value of a slot key: the holder's member id. */
export function encodeSlotValue(memberId: string): Uint8Array {
  return encoder.encode(memberId);
}

/** The holder's member id from a slot key's value. */
export function decodeSlotValue(value: Uint8Array): string {
  return decoder.decode(value);
}

/** A decoded table. */
export interface ShardTable extends SlotAssignment {
  /** Membership revision the table was computed from: a writer with an older view must not replace it. */
  readonly membersRevision: number;
  /** The table key's mod revision (0: no table yet). */
  readonly modRevision: number;
}

/**
 * Serialises a table: JSON with the members (id, weight), the slot count, and the owners
 * run-length encoded (`runs` = owner index, run length, ...), which keeps a fresh table to a few
 * hundred bytes and a churned 16384-slot table well under the stores' 1 MiB value limit.
 */
export function encodeTable(a: SlotAssignment, membersRevision: number): string {
  const runs: number[] = [];
  for (let s = 0; s < a.owners.length;) {
    const owner = a.owners[s]!;
    let end = s + 1;
    while (end < a.owners.length && a.owners[end] === owner) end++;
    runs.push(owner, end - s);
    s = end;
  }
  return JSON.stringify({
    v: 1,
    slotCount: a.owners.length,
    nodes: a.nodes,
    weights: a.weights,
    runs,
    membersRevision,
  });
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** The table's own slot count, checked before anything is allocated by it. */
function tableSlotCount(t: { slotCount?: unknown }, expected: number | undefined): number {
  if (t.slotCount === undefined) {
    // Tables written before the count was stored: only a reader that knows the count can read them.
    if (expected === undefined) throw new Error('the table does not state its slot count');
    return expected;
  }
  const n = t.slotCount;
  if (!isCount(n) || n < 1 || n > MAX_SLOT_COUNT)
    throw new Error(`slotCount ${JSON.stringify(n)} is not an integer in 1..${MAX_SLOT_COUNT}`);
  if (expected !== undefined && n !== expected)
    throw new Error(`table has ${n} slots, the reader has ${expected}`);
  return n;
}

/**
 * Parses a table. `slotCount` is the count the reader expects (a member's or router's option);
 * undefined takes the count the table states.
 * @throws TenureError `TENURE_CORRUPT` if it is not one of ours, or has another slot count.
 */
export function decodeTable(
  bytes: Uint8Array,
  slotCount: number | undefined,
  modRevision: number,
): ShardTable {
  try {
    const t = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
    if (t === null || typeof t !== 'object') throw new Error('not a JSON object');
    if (t.v !== 1) throw new Error(`unknown table version ${String(t.v)}`);
    const { nodes, weights, runs, membersRevision } = t;
    if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === 'string'))
      throw new Error('nodes is not a list of member ids');
    if (
      !Array.isArray(weights) ||
      weights.length !== nodes.length ||
      !weights.every((w) => typeof w === 'number')
    )
      throw new Error('weights do not match nodes');
    if (!Array.isArray(runs) || runs.length % 2 !== 0) throw new Error('runs is not a list of pairs');
    if (!isCount(membersRevision)) throw new Error('membersRevision is not a revision');
    const count = tableSlotCount(t, slotCount);
    const owners = new Uint32Array(count);
    let s = 0;
    for (let i = 0; i < runs.length; i += 2) {
      const owner: unknown = runs[i];
      const len: unknown = runs[i + 1];
      if (!isCount(owner) || owner >= nodes.length || !isCount(len) || len < 1 || s + len > count)
        throw new Error('run out of range');
      owners.fill(owner, s, s + len);
      s += len;
    }
    if (s !== count) throw new Error(`table has ${s} slots, the reader has ${count}`);
    return {
      nodes: nodes as string[],
      weights: weights as number[],
      owners,
      membersRevision,
      modRevision,
    };
  } catch (err) {
    throw new TenureError(
      'TENURE_CORRUPT',
      `the shard table is unreadable (${(err as Error).message}): every member of a group must use the same slotCount`,
      { cause: err },
    );
  }
}

// ---- describe ----

/** One slot of a described group. */
export interface SlotDescription {
  readonly slot: number;
  /** The member holding the slot's key, or undefined while the slot is between owners. */
  readonly holder: string | undefined;
  /** The holder's fencing token (its key's create revision), or undefined. */
  readonly token: number | undefined;
  /** The member the committed table assigns the slot to, or undefined without a table. */
  readonly planned: string | undefined;
}

/** A group's keys, decoded. */
export interface ShardGroupDescription {
  readonly group: string;
  /**
   * The slot count: the reader's if it gave one, else the one the readable table states; undefined
   * when neither is known (then `slots` is empty and every slot key is undecoded).
   */
  readonly slotCount: number | undefined;
  /** The committed table, if there is one this version can read. */
  readonly table: ShardTable | undefined;
  /** One entry per slot, in slot order (`slotCount` entries). */
  readonly slots: readonly SlotDescription[];
  /** Keys that could not be decoded (at most {@link MAX_UNDECODED}, in key order). */
  readonly undecoded: readonly UndecodedKey[];
  /** How many keys could not be decoded (including those not listed). */
  readonly undecodedCount: number;
}

/** Options of {@link describe}. */
export interface DescribeOptions {
  /** The group whose keys these are. */
  readonly group: string;
  /**
   * The slot count the reader expects (a member's or router's `slotCount`): a table with another
   * count is then undecodable. @default the count the table states
   */
  readonly slotCount?: number;
}

/**
 * Decodes a group's keys (a range of {@link groupPrefix}): the table, each slot's holder and token
 * and planned owner, and the keys it could not decode. Pure; its memory is bounded by the slot
 * count (at most {@link MAX_SLOT_COUNT}, checked before allocating) and the number of keys, never
 * by an index read from the store.
 *
 * @example
 * ```ts
 * const { kvs } = await store.range(groupPrefix('orders'));
 * const d = describe(kvs, { group: 'orders' });
 * d.slots.filter((s) => s.holder === undefined).length; // slots between owners
 * ```
 */
export function describe(kvs: readonly KeyValue[], options: DescribeOptions): ShardGroupDescription {
  const { group } = options;
  const report = new UndecodedKeys();
  const skip = (key: string, reason: string) => report.add(key, reason);
  let slotCount = options.slotCount;
  let table: ShardTable | undefined;
  const key = tableKey(group);
  for (const kv of kvs)
    if (kv.key === key) {
      try {
        table = decodeTable(kv.value, slotCount, kv.modRevision);
        slotCount = table.owners.length;
      } catch (err) {
        skip(kv.key, (err as Error).message);
      }
    }
  const holders = new Map<number, KeyValue>();
  for (const kv of kvs) {
    if (kv.key === key) continue;
    const parsed = parseKey(group, kv.key, slotCount);
    if (parsed.kind === 'slot') holders.set(parsed.slot, kv);
    else if (parsed.kind === 'undecodable') skip(kv.key, parsed.reason);
  }
  const slots: SlotDescription[] = [];
  for (let s = 0; s < (slotCount ?? 0); s++) {
    const kv = holders.get(s);
    slots.push({
      slot: s,
      holder: kv === undefined ? undefined : decodeSlotValue(kv.value),
      token: kv?.createRevision,
      planned: table === undefined ? undefined : table.nodes[table.owners[s]!],
    });
  }
  return {
    group,
    slotCount,
    table,
    slots,
    undecoded: report.undecoded,
    undecodedCount: report.undecodedCount,
  };
}

/**
 * Every group under `shards/` in `kvs` (a range of {@link SHARDS_PREFIX}), described with the
 * slot count each group's table states, sorted by group.
 */
export function describeGroups(kvs: readonly KeyValue[]): ShardGroupDescription[] {
  const byGroup = new Map<string, KeyValue[]>();
  for (const kv of kvs) {
    if (!kv.key.startsWith(SHARDS_PREFIX)) continue;
    const rest = kv.key.slice(SHARDS_PREFIX.length);
    const slash = rest.indexOf('/');
    const group = slash < 0 ? rest : rest.slice(0, slash);
    let list = byGroup.get(group);
    if (list === undefined) byGroup.set(group, (list = []));
    list.push(kv);
  }
  return [...byGroup.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((group) => describe(byGroup.get(group)!, { group }));
}
