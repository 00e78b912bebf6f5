/**
 * The store layout of Membership: the one place that knows its keys and values.
 *
 * ```
 * members/<group>/<id>   a member, under its session's lease; create revision = its join revision;
 *                        value = JSON { address?, weight, zone?, data? }
 * ```
 * @internal
 */
import type { KeyValue } from '../../store/types.js';
import { PREFIX } from '../names.js';
import { UndecodedKeys, type UndecodedReport } from '../undecoded-keys.js';

/** `members/`: every member of every group. */
export const MEMBERS_PREFIX: string = PREFIX.members;

/** `members/<group>/`: the members of one group (the prefix Membership ranges and watches). */
export function groupPrefix(group: string): string {
  return `${MEMBERS_PREFIX}${group}/`;
}

/** `members/<group>/<id>`. */
export function memberKey(group: string, id: string): string {
  return groupPrefix(group) + id;
}

/** What a key under `members/` is. */
export type MemberKey =
  | { readonly kind: 'member'; readonly group: string; readonly id: string }
  | { readonly kind: 'undecodable'; readonly reason: string };

/** Classifies a key under `members/`: `members/<group>/<id>` (group and id nonempty), or undecodable. */
export function parseMemberKey(key: string): MemberKey {
  if (!key.startsWith(MEMBERS_PREFIX)) return { kind: 'undecodable', reason: `not under ${MEMBERS_PREFIX}` };
  const rest = key.slice(MEMBERS_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1)
    return { kind: 'undecodable', reason: `not ${MEMBERS_PREFIX}<name>/<key>` };
  return { kind: 'member', group: rest.slice(0, slash), id: rest.slice(slash + 1) };
}

/** The id of a key of `group` (what follows `members/<group>/`); undefined for a key of another group. */
export function memberId(group: string, key: string): string | undefined {
  const prefix = groupPrefix(group);
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

// ---- values ----

/** What a member key's value holds. */
export interface MemberValue {
  readonly address: string | undefined;
  /** A finite number > 0 (1 when the value has none or a bad one). */
  readonly weight: number;
  readonly zone: string | undefined;
  readonly data: unknown;
}

/**
 * A member key's value, as Membership writes it: JSON of its metadata (weight 1 by default).
 * @throws what JSON.stringify throws (a BigInt, a cycle in `data`): the caller names the option.
 */
export function encodeMemberValue(meta: {
  address?: string;
  weight?: number;
  zone?: string;
  data?: unknown;
}): string {
  return JSON.stringify({
    address: meta.address,
    weight: meta.weight ?? 1,
    zone: meta.zone,
    data: meta.data,
  });
}

const decoder = new TextDecoder();

/**
 * Decodes a member key's value; undefined for a value this version does not understand (not
 * JSON, or JSON null): Membership ignores such a key, and describe() reports it.
 */
export function decodeMemberValue(value: Uint8Array): MemberValue | undefined {
  let v: Record<string, unknown> | null;
  try {
    v = JSON.parse(decoder.decode(value)) as Record<string, unknown> | null;
  } catch {
    return undefined;
  }
  if (v === null || v === undefined) return undefined;
  const { address, weight, zone, data } = v;
  return {
    address: typeof address === 'string' ? address : undefined,
    weight: typeof weight === 'number' && weight > 0 && Number.isFinite(weight) ? weight : 1,
    zone: typeof zone === 'string' ? zone : undefined,
    data,
  };
}

/** A member, decoded from its key. */
export interface MemberRecord extends MemberValue {
  readonly id: string;
  /** The revision at which it joined (its key's create revision). */
  readonly joinRevision: number;
  /** The lease its key is attached to. */
  readonly lease: string | null;
}

/** A key of `group` as a member; undefined when the key or its value cannot be decoded. */
export function decodeMember(group: string, kv: KeyValue): MemberRecord | undefined {
  const id = memberId(group, kv.key);
  if (id === undefined || id === '') return undefined;
  const v = decodeMemberValue(kv.value);
  return v && { id, ...v, joinRevision: kv.createRevision, lease: kv.lease };
}

// ---- describe ----

/** A member of a described group, with the value it stored. */
export interface DescribedMember extends MemberRecord {
  readonly group: string;
  /** The stored value, parsed: what the dashboard shows as the member's metadata. */
  readonly value: unknown;
}

/** Every member in a range of {@link MEMBERS_PREFIX}. */
export interface MembersDescription extends UndecodedReport {
  /** By group, then by id. */
  readonly members: readonly DescribedMember[];
}

/**
 * Decodes a range of `members/`: each member with its metadata, sorted by group then id; a key
 * that is not `members/<group>/<id>`, or whose value is not a member's, is reported. Pure.
 */
export function describe(kvs: readonly KeyValue[], undecoded = new UndecodedKeys()): MembersDescription {
  const members: DescribedMember[] = [];
  for (const kv of kvs) {
    const parsed = parseMemberKey(kv.key);
    if (parsed.kind === 'undecodable') {
      undecoded.add(kv.key, parsed.reason);
      continue;
    }
    const m = decodeMember(parsed.group, kv);
    if (m === undefined) {
      undecoded.add(kv.key, 'a member value that is not JSON metadata');
      continue;
    }
    members.push({ ...m, group: parsed.group, value: JSON.parse(decoder.decode(kv.value)) as unknown });
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  members.sort((a, b) => cmp(a.group, b.group) || cmp(a.id, b.id));
  return { members, undecoded: undecoded.undecoded, undecodedCount: undecoded.undecodedCount };
}
