/**
 * The store layout shared by the queue recipes (Election, Mutex, Semaphore, RWLock): the one
 * place that knows how their queue keys are named and how a tagged value is written.
 *
 * ```
 * <kind>/<name>/<unique>     a queue entry, under its session's lease; its create revision is its
 *                            place in the queue and its fencing token (a leader's term).
 *                            <kind> is election, mutex, semaphore or rwlock; <unique> is
 *                            <lease>-<process>-<counter> (Session.uniqueKey), never reused
 * value                      election: the candidate's value; mutex: the owner;
 *                            semaphore: `<permits> <owner>`; rwlock: `<read|write> <owner>`
 * ```
 *
 * Each recipe's own layout (election-layout, mutex-layout, semaphore-layout, rwlock-layout)
 * applies its holder rule to the entries this module decodes; nobody else slices these keys.
 * @internal
 */
import type { KeyValue } from '../../store/types.js';
import { PREFIX } from '../names.js';
import { UndecodedKeys, type UndecodedReport } from '../undecoded-keys.js';

/** The queue recipes, by the first segment of their keys. */
export type QueueKind = 'election' | 'mutex' | 'semaphore' | 'rwlock';

/** `<kind>/`: every key of every queue of one kind. */
export function kindPrefix(kind: QueueKind): string {
  return PREFIX[kind];
}

/** `<kind>/<name>/`: the keys of one queue (the prefix a recipe ranges, watches and enqueues under). */
export function queuePrefix(kind: QueueKind, name: string): string {
  return `${kindPrefix(kind)}${name}/`;
}

/** What a key under `<kind>/` is. */
export type QueueKey =
  | { readonly kind: 'entry'; readonly name: string; readonly unique: string }
  | { readonly kind: 'undecodable'; readonly reason: string };

/** Classifies a key under `<kind>/`: an entry `<kind>/<name>/<unique>`, or undecodable (and why). */
export function parseQueueKey(kind: QueueKind, key: string): QueueKey {
  const prefix = kindPrefix(kind);
  if (!key.startsWith(prefix)) return { kind: 'undecodable', reason: `not under ${prefix}` };
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1)
    return { kind: 'undecodable', reason: `not ${prefix}<name>/<key>` };
  return { kind: 'entry', name: rest.slice(0, slash), unique: rest.slice(slash + 1) };
}

// ---- values ----

const decoder = new TextDecoder();

/** An entry's value as text. */
export function decodeText(value: Uint8Array): string {
  return decoder.decode(value);
}

/**
 * The value of a queue entry that carries a tag before its owner, `<tag> <owner>`: a
 * semaphore's permit count, a read-write lock's mode.
 */
export function encodeTagged(tag: string | number, owner: string): string {
  return `${tag} ${owner}`;
}

/** A tagged entry value as `[tag, owner]`; `['', value]` for a value without a tag. */
export function decodeTagged(value: string): [tag: string, owner: string] {
  const space = value.indexOf(' ');
  return space < 0 ? ['', value] : [value.slice(0, space), value.slice(space + 1)];
}

// ---- entries ----

/** A queue entry, decoded. */
export interface QueueEntry {
  /** Its key (unique to the session that wrote it). */
  readonly key: string;
  /** What it wrote, untagged: a candidate's value, a lock entry's owner (`host:pid` by default). */
  readonly owner: string;
  /** Its create revision: its place in the queue, and a holder's fencing token (a leader's term). */
  readonly token: number;
  /** The lease it is attached to. */
  readonly lease: string | null;
}

/** A queue entry with its (untagged) text. */
export function toEntry(kv: KeyValue, owner: string = decodeText(kv.value)): QueueEntry {
  return { key: kv.key, owner, token: kv.createRevision, lease: kv.lease };
}

/** The queues of one kind in `kvs`, by name (names sorted), each in queue order. */
export interface QueueGroups extends UndecodedReport {
  readonly queues: ReadonlyMap<string, readonly KeyValue[]>;
}

/**
 * Each queue of `kind` in `kvs`, by name, with its entries decoded by `decode` in queue order.
 * An entry `decode` cannot read (undefined) is reported as `problem` and left out; a queue with
 * no readable entry is left out.
 */
export function decodeQueues<E>(
  kind: QueueKind,
  kvs: readonly KeyValue[],
  undecoded: UndecodedKeys,
  decode: (kv: KeyValue) => E | undefined,
  problem: string,
): [name: string, entries: E[]][] {
  const out: [string, E[]][] = [];
  for (const [name, list] of groupQueues(kind, kvs, undecoded).queues) {
    const entries: E[] = [];
    for (const kv of list) {
      const e = decode(kv);
      if (e === undefined) undecoded.add(kv.key, problem);
      else entries.push(e);
    }
    if (entries.length > 0) out.push([name, entries]);
  }
  return out;
}

/**
 * Groups the keys of a range of `<kind>/` by queue name, each queue in create-revision order
 * (queue order) and the names sorted; keys that are not `<kind>/<name>/<unique>` are reported.
 */
export function groupQueues(
  kind: QueueKind,
  kvs: readonly KeyValue[],
  undecoded = new UndecodedKeys(),
): QueueGroups {
  const groups = new Map<string, KeyValue[]>();
  for (const kv of kvs) {
    const parsed = parseQueueKey(kind, kv.key);
    if (parsed.kind === 'undecodable') {
      undecoded.add(kv.key, parsed.reason);
      continue;
    }
    let list = groups.get(parsed.name);
    if (list === undefined) groups.set(parsed.name, (list = []));
    list.push(kv);
  }
  for (const list of groups.values()) list.sort((a, b) => a.createRevision - b.createRevision);
  const names = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    queues: new Map(names.map((n) => [n, groups.get(n)!])),
    undecoded: undecoded.undecoded,
    undecodedCount: undecoded.undecodedCount,
  };
}
