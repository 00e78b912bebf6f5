/**
 * A linearizability checker for the Store's key-value operations (see kv-model.ts).
 *
 * The search is Wing and Gong's, with Lowe's just-in-time linearization and memoization of the
 * configurations already explored ("Testing for linearizability", G. Lowe, 2017; the same design
 * as Porcupine): the calls and returns of a key's operations sit in one list in time order; the
 * search linearizes a call whose operation fits the model state, removes it from the list and
 * starts again from the head, and when it meets a return whose call has not been linearized it
 * undoes the last choice. A configuration (the set of linearized operations and the model state)
 * reached before is not explored again: the set is a bitset, hashed incrementally (Zobrist
 * hashing) so that a visit costs O(1) unless the hash matches.
 *
 * `info` operations (outcome unknown) return at infinity: they may take effect at any time after
 * their invoke, or never, so the search succeeds once every `ok` operation is linearized. `fail`
 * operations did not happen and are dropped, and so are reads whose outcome is unknown.
 *
 * The history is checked key by key (P-compositionality). No maintained JavaScript checker
 * exists, hence this one.
 */
import { invalidArgument } from '../errors.js';
import { History, type Operation } from './history.js';
import { describeKvOp, mentionedValues, parseKvOp, stepKv, type KvOp, type KvState } from './kv-model.js';

/** Options of {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /**
   * Most configurations the search may visit for one key before it gives up and reports
   * `unknown` (a history with many concurrent `info` writes can be exponential).
   * @default 10_000_000 — far more than a 20,000-operation history over 8 clients needs (about
   * 40,000), small enough to end within a minute.
   */
  maxStates?: number;
  /** Look for the minimal failing window of a violation (a few more searches). @default true */
  minimizeViolation?: boolean;
}

/** Defaults of {@link LinearizabilityOptions}. */
export const LINEARIZABILITY_DEFAULTS = Object.freeze({ maxStates: 10_000_000, minimizeViolation: true });

/** One operation of a failing window. */
export interface WindowOperation {
  /** The operation as it is in the history. */
  readonly operation: Operation;
  /** Its short text (`cas x "1"→"2" succeeded`). */
  readonly text: string;
  /** True for the operation whose completion made the history non-linearizable. */
  readonly failing: boolean;
}

/** A violation of linearizability on one key. */
export interface LinearizabilityViolation {
  readonly key: string;
  /**
   * The smallest window found whose operations cannot be ordered: it ends with the completion of
   * the first operation no order explains, and starts at the latest point where every earlier
   * operation had completed before any of the window's began. When it does not start at the
   * history's beginning, no start value of the key explains it either.
   */
  readonly window: readonly WindowOperation[];
  /** Whether the window starts from the key's initial (absent) state or from any state. */
  readonly fromStart: boolean;
  /** The window as text, one operation a line. */
  readonly text: string;
}

/** The outcome of {@link checkLinearizability}. */
export interface LinearizabilityResult {
  /** `linearizable`; `violation` (see `violation`); `unknown` when a key exceeded `maxStates`. */
  readonly verdict: 'linearizable' | 'violation' | 'unknown';
  /** Operations checked (`ok` and `info` writes; `fail` and unknown reads dropped). */
  readonly operations: number;
  /** Keys checked. */
  readonly keys: number;
  /** Configurations the search visited, over all keys (and the window search). */
  readonly statesExplored: number;
  /** The first violation found. */
  readonly violation?: LinearizabilityViolation;
  /** The keys whose search gave up (verdict `unknown`). */
  readonly unknownKeys: readonly string[];
}

interface Indexed {
  readonly op: Operation;
  readonly kv: KvOp;
}

/** Splits a history's operations by key, dropping what cannot affect the verdict. */
function partition(ops: readonly Operation[]): Map<string, Indexed[]> {
  const byKey = new Map<string, Indexed[]>();
  for (const op of ops) {
    if (op.status === 'fail') continue;
    const kv = parseKvOp(op);
    if (op.status === 'info' && kv.kind === 'get') continue;
    let list = byKey.get(kv.key);
    if (list === undefined) byKey.set(kv.key, (list = []));
    list.push({ op, kv });
  }
  return byKey;
}

/** A deterministic 32-bit generator for the Zobrist keys (xorshift32). */
function zobristKeys(n: number): Int32Array {
  const keys = new Int32Array(n);
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    keys[i] = x;
  }
  return keys;
}

function hashState(s: KvState): number {
  if (s === null) return 0x5bd1e995;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

interface Entry {
  readonly op: number;
  readonly call: boolean;
  readonly time: number;
  prev: Entry | null;
  next: Entry | null;
  match: Entry | null;
}

/** The result of one search over one key's operations from a set of start states. */
interface SearchOutcome {
  readonly result: 'ok' | 'fail' | 'unknown';
  readonly states: number;
}

/**
 * Lowe's search with memoization over `ops` (each with its own invoke/return times), starting
 * from `start`. Succeeds once every `required` operation is linearized.
 */
function search(raw: readonly Indexed[], rawStart: KvState, maxStates: number): SearchOutcome {
  const n = raw.length;
  let required = 0;
  for (const { op } of raw) if (op.status === 'ok') required++;
  if (required === 0) return { result: 'ok', states: 0 };
  const { ops, start, before, classOf, classes } = reduce(raw, rawStart);

  // The list of calls and returns, in time order; at equal times calls first (more overlap,
  // never a false violation).
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const { op } = ops[i]!;
    const call: Entry = { op: i, call: true, time: op.invokeTime, prev: null, next: null, match: null };
    const ret: Entry = { op: i, call: false, time: op.returnTime, prev: null, next: null, match: null };
    call.match = ret;
    entries.push(call, ret);
  }
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const head: Entry = { op: -1, call: false, time: -Infinity, prev: null, next: null, match: null };
  let last = head;
  for (const e of entries) {
    e.prev = last;
    last.next = e;
    last = e;
  }

  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  // Bit positions: `ok` operations first, in invoke order, then `info` ones. The search linearizes
  // `ok` operations roughly in order, so two configurations differ only in a short run of words
  // between the first word not yet full and the last word not empty; that run is what is stored
  // and compared, not the whole bitset. The hash covers the `ok` operations and the state.
  const slot = new Int32Array(n);
  let okCount = 0;
  for (let i = 0; i < n; i++) if (ops[i]!.op.status === 'ok') slot[i] = okCount++;
  const okWords = (okCount + 31) >>> 5;
  let infoCount = 0;
  for (let i = 0; i < n; i++) if (ops[i]!.op.status !== 'ok') slot[i] = okWords * 32 + infoCount++;
  const words = okWords + ((infoCount + 31) >>> 5);
  const bits = new Uint32Array(words);
  const zobrist = zobristKeys(n);
  let setHash = 0;
  let lo = 0; // first ok word not full
  let hi = -1; // last ok word not empty
  // Applied `info` operations, as a count per class of interchangeable ones (see reduce()):
  // with the canonical order inside a class, the count says which ones.
  const counts = new Int32Array(classes);
  const set = (i: number) => {
    const b = slot[i]!;
    const w = b >>> 5;
    bits[w]! |= 1 << (b & 31);
    if (w < okWords) {
      setHash ^= zobrist[i]!;
      if (w > hi) hi = w;
      while (lo < okWords && bits[lo] === 0xffffffff) lo++;
    } else counts[classOf[i]!]!++;
  };
  const clear = (i: number) => {
    const b = slot[i]!;
    const w = b >>> 5;
    bits[w]! &= ~(1 << (b & 31));
    if (w < okWords) {
      setHash ^= zobrist[i]!;
      if (w < lo) lo = w;
      while (hi >= 0 && bits[hi] === 0) hi--;
    } else counts[classOf[i]!]!--;
  };
  interface Seen {
    readonly lo: number;
    readonly run: Uint32Array;
    readonly state: KvState;
    readonly counts: Int32Array;
  }
  // A configuration is covered by one seen before with the same `ok` operations linearized, the
  // same state, and no more `info` operations of any class used up: everything the newer one can
  // do, the older one could (its unused operations are a superset), and it was explored. With no
  // `info` operations this is plain equality.
  const covered = (c: Seen, state: KvState): boolean => {
    if (c.state !== state || c.lo !== Math.min(lo, hi + 1)) return false;
    const okLen = hi + 1 - c.lo;
    if (c.run.length !== okLen) return false;
    for (let w = 0; w < okLen; w++) if (c.run[w] !== bits[c.lo + w]) return false;
    for (let k = 0; k < classes; k++) if (c.counts[k]! > counts[k]!) return false;
    return true;
  };
  const cache = new Map<number, Seen[]>();
  const seen = (hash: number, state: KvState): boolean => {
    const bucket = cache.get(hash);
    if (bucket !== undefined) for (const c of bucket) if (covered(c, state)) return true;
    const from = Math.min(lo, hi + 1);
    const entry: Seen = { lo: from, run: bits.slice(from, hi + 1), state, counts: counts.slice() };
    if (bucket === undefined) cache.set(hash, [entry]);
    else bucket.push(entry);
    return false;
  };

  // Candidates of a configuration are the calls before the first return in the list. They are
  // tried in two passes, `ok` operations first: an `info` operation is linearized only when no
  // order of the `ok` ones works without it, which keeps the search short when timeouts are many.
  const stack: { entry: Entry; state: KvState; pass: 0 | 1 }[] = [];
  let state = start;
  let done = 0;
  let states = 0;
  let entry = head.next;
  let pass: 0 | 1 = 0;
  for (;;) {
    if (entry === null || !entry.call) {
      if (pass === 0 && infoCount > 0) {
        pass = 1;
        entry = head.next;
        continue;
      }
      // A return whose call is still in the list: that operation had to be linearized by now.
      const top = stack.pop();
      if (top === undefined) return { result: 'fail', states };
      const i = top.entry.op;
      state = top.state;
      clear(i);
      if (ops[i]!.op.status === 'ok') done--;
      unlift(top.entry);
      entry = top.entry.next;
      pass = top.pass;
      continue;
    }
    const i = entry.op;
    const isInfo = ops[i]!.op.status !== 'ok';
    const b = before[i]!;
    if (isInfo !== (pass === 1) || (b >= 0 && (bits[slot[b]! >>> 5]! & (1 << (slot[b]! & 31))) === 0)) {
      entry = entry.next;
      continue;
    }
    const next = stepKv(state, ops[i]!.kv);
    // An `info` operation that would change nothing (a compare-and-set that fails, a delete of
    // an absent key, a put of the value already there) is never tried: a linearization that
    // applies it can leave it out (it may never have happened) and stay valid, while keeping it
    // pending keeps its chance to apply later.
    if (next !== undefined && !(isInfo && next === state)) {
      set(i);
      if (!seen((setHash ^ Math.imul(hashState(next), 0x27d4eb2d)) | 0, next)) {
        if (++states > maxStates) return { result: 'unknown', states };
        stack.push({ entry, state, pass });
        state = next;
        if (!isInfo && ++done === required) return { result: 'ok', states };
        lift(entry);
        entry = head.next;
        pass = 0;
        continue;
      }
      clear(i);
    }
    entry = entry.next;
  }
}

const UNOBSERVED = '\u0000unobserved';

/**
 * Two reductions that change no verdict and make `info` writes cheap:
 * - a value no read returned and no compare-and-set expected can only be told apart from the
 *   others by being absent or not: every such value becomes one symbol;
 * - `info` operations that are then identical (same kind, key, expected and written value) are
 *   interchangeable: whenever a set of k of them takes effect at some instants, the k invoked
 *   first could take effect at the same instants instead, with the same results. So one may be
 *   linearized only after the one of its kind invoked before it (`before`, -1 for none), which
 *   cuts the 2^k subsets of pending timeouts down to k + 1.
 */
function reduce(
  raw: readonly Indexed[],
  rawStart: KvState,
): { ops: Indexed[]; start: KvState; before: Int32Array; classOf: Int32Array; classes: number } {
  const observed = new Set<KvState>([null]);
  for (const { kv } of raw) {
    if (kv.kind === 'get' && kv.value !== undefined) observed.add(kv.value);
    if (kv.kind === 'cas') observed.add(kv.expect);
  }
  const norm = (v: KvState): KvState => (observed.has(v) ? v : UNOBSERVED);
  const ops = raw.map((x): Indexed => {
    const kv = x.kv;
    if (kv.kind === 'put') return { op: x.op, kv: { ...kv, value: norm(kv.value) as string } };
    if (kv.kind === 'cas') return { op: x.op, kv: { ...kv, value: norm(kv.value) } };
    return x;
  });
  const before = new Int32Array(ops.length).fill(-1);
  const classOf = new Int32Array(ops.length).fill(-1);
  const classIds = new Map<string, number>();
  const last = new Map<string, number>();
  const byInvoke = ops
    .map((_, i) => i)
    .sort((a, b) => ops[a]!.op.invokeTime - ops[b]!.op.invokeTime || a - b);
  for (const i of byInvoke) {
    if (ops[i]!.op.status === 'ok') continue;
    const kind = JSON.stringify(ops[i]!.kv);
    const prev = last.get(kind);
    if (prev !== undefined) before[i] = prev;
    last.set(kind, i);
    let id = classIds.get(kind);
    if (id === undefined) classIds.set(kind, (id = classIds.size));
    classOf[i] = id;
  }
  return { ops, start: rawStart === null ? null : norm(rawStart), before, classOf, classes: classIds.size };
}

/** The operations of `ops` that had begun by time `t`; those still running then become `info`. */
function prefixAt(ops: readonly Indexed[], t: number): Indexed[] {
  const out: Indexed[] = [];
  for (const x of ops) {
    if (x.op.invokeTime > t) continue;
    if (x.op.returnTime <= t) out.push(x);
    else if (x.kv.kind !== 'get') {
      const kv: KvOp =
        x.kv.kind === 'cas'
          ? { ...x.kv, succeeded: undefined }
          : x.kv.kind === 'delete'
            ? { ...x.kv, deleted: undefined }
            : x.kv;
      out.push({ op: { ...x.op, status: 'info', returnTime: Infinity }, kv });
    }
  }
  return out;
}

/** Fails from every start value that matters (those the window mentions, and one it does not). */
function failsFromAnyState(ops: readonly Indexed[], maxStates: number, count: { states: number }): boolean {
  const candidates = new Set<KvState>([null]);
  for (const x of ops) for (const v of mentionedValues(x.kv)) candidates.add(v);
  let other = '\u0000other';
  while (candidates.has(other)) other += '\u0000';
  candidates.add(other);
  for (const s of candidates) {
    const r = search(ops, s, maxStates);
    count.states += r.states;
    if (r.result !== 'fail') return false;
  }
  return true;
}

/** Narrows a failing key's history to its minimal failing window. */
function minimize(
  key: string,
  ops: readonly Indexed[],
  maxStates: number,
  count: { states: number },
): LinearizabilityViolation {
  // 1. The earliest completion after which no order works (a prefix fails once, then always).
  const ends = [...new Set(ops.filter((x) => x.op.status === 'ok').map((x) => x.op.returnTime))].sort(
    (a, b) => a - b,
  );
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = search(prefixAt(ops, ends[mid]!), null, maxStates);
    count.states += r.states;
    if (r.result === 'fail') hi = mid;
    else lo = mid + 1;
  }
  const end = ends[lo]!;
  const prefix = prefixAt(ops, end);
  // 2. The latest cut with every earlier operation complete before any later one began: all
  // operations before it are linearized before all after it, whatever the order, so if the rest
  // fails from every start value it fails on its own. Later valid cuts fail less often.
  const byReturn = [...prefix].sort((a, b) => a.op.returnTime - b.op.returnTime);
  const cuts: number[] = [0];
  let minInvokeAfter = Infinity;
  const suffixMinInvoke = new Array<number>(byReturn.length + 1).fill(Infinity);
  // `info` operations sort last and are always kept: one begun before the cut may still take
  // effect after it (or before: the any-start-value check covers that), so it does not stop a cut.
  for (let k = byReturn.length - 1; k >= 0; k--) {
    if (byReturn[k]!.op.status === 'ok')
      minInvokeAfter = Math.min(minInvokeAfter, byReturn[k]!.op.invokeTime);
    suffixMinInvoke[k] = minInvokeAfter;
  }
  for (let k = 1; k < byReturn.length; k++)
    if (byReturn[k - 1]!.op.returnTime < suffixMinInvoke[k]!) cuts.push(k);
  let best = 0;
  let a = 1;
  let b = cuts.length - 1;
  while (a <= b) {
    const mid = (a + b) >>> 1;
    if (failsFromAnyState(byReturn.slice(cuts[mid]!), maxStates, count)) {
      best = mid;
      a = mid + 1;
    } else b = mid - 1;
  }
  const windowOps = byReturn
    .slice(cuts[best]!)
    .sort((x, y) => x.op.invokeTime - y.op.invokeTime || x.op.index - y.op.index);
  // Shown as recorded; one still running at the failing completion counts as `info` in the
  // window (it may take effect after it) and says so.
  const original = new Map(ops.map((x) => [x.op.index, x]));
  const window = windowOps.map((x) => {
    const o = original.get(x.op.index)!;
    const running = o.op.status === 'ok' && o.op.returnTime > end;
    return {
      operation: o.op,
      text:
        describeKvOp(running ? x.kv : o.kv) + (running ? ' (completes later: may take effect later)' : ''),
      failing: o.op.status === 'ok' && o.op.returnTime === end,
    };
  });
  const fromStart = cuts[best] === 0;
  return { key, window, fromStart, text: renderWindowText(key, window, fromStart) };
}

const fmt = (t: number) => (Number.isFinite(t) ? t.toFixed(3) : '…');

/** The window as text: one operation a line, with its process and times. */
export function renderWindowText(
  key: string,
  window: readonly WindowOperation[],
  fromStart: boolean,
): string {
  const lines = [
    `not linearizable: key ${JSON.stringify(key)}: no order of these ${window.length} operations ${fromStart ? 'from the key absent' : 'from any earlier value of the key'} explains their results:`,
  ];
  for (const w of window) {
    const o = w.operation;
    lines.push(
      `  ${w.failing ? '>' : ' '} process ${String(o.process)}  [${fmt(o.invokeTime)} .. ${fmt(o.returnTime)}] ms  ${o.status === 'info' ? '(outcome unknown) ' : ''}${w.text}`,
    );
  }
  lines.push('  (> marks the completion after which no order works)');
  return lines.join('\n');
}

/**
 * Checks that a history of key-value operations (see kv-model.ts) is linearizable: that some
 * order of its operations, each taking effect at one instant between its invoke and its return,
 * explains every result, every key starting absent.
 *
 * @example
 * ```ts
 * const result = checkLinearizability(History.fromJsonLines(text));
 * if (result.verdict === 'violation') console.log(result.violation!.text);
 * ```
 * @throws TENURE_INVALID_ARGUMENT for an operation that is not a key-value operation, or a bad option.
 */
export function checkLinearizability(
  history: History | readonly Operation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const maxStates = options.maxStates ?? LINEARIZABILITY_DEFAULTS.maxStates;
  if (!Number.isSafeInteger(maxStates) || maxStates < 1)
    throw invalidArgument('maxStates', `must be a positive integer (got ${String(maxStates)})`);
  const ops = history instanceof History ? history.operations() : history;
  const byKey = partition(ops);
  const count = { states: 0 };
  let checked = 0;
  const unknownKeys: string[] = [];
  let violation: LinearizabilityViolation | undefined;
  for (const [key, keyOps] of byKey) {
    checked += keyOps.length;
    const r = search(keyOps, null, maxStates);
    count.states += r.states;
    if (r.result === 'unknown') unknownKeys.push(key);
    if (r.result === 'fail' && violation === undefined)
      violation =
        options.minimizeViolation === false
          ? {
              key,
              window: keyOps.map((x) => ({ operation: x.op, text: describeKvOp(x.kv), failing: false })),
              fromStart: true,
              text: `not linearizable: key ${JSON.stringify(key)} (window not minimized)`,
            }
          : minimize(key, keyOps, maxStates, count);
  }
  return {
    verdict: violation ? 'violation' : unknownKeys.length > 0 ? 'unknown' : 'linearizable',
    operations: checked,
    keys: byKey.size,
    statesExplored: count.states,
    ...(violation ? { violation } : {}),
    unknownKeys,
  };
}
