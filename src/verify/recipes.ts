/**
 * Checkers for the recipes' safety properties, over histories of what clients believed and did.
 *
 * A **holding** is the time a client believed it held something (a lock, a leadership, a permit,
 * a slot): from the completion of its acquire to the invoke of its release, the moment it
 * observed the loss, or its death. A holder paused for at least the ttl (SIGSTOP, a VM pause) may
 * lose its lease without knowing: from the start of such a pause its holding is in doubt, and it
 * is counted as ended there. That is exactly the case fencing exists for: what it does after the
 * pause must be refused by the resource, which the lock checker verifies from the resource's side.
 *
 * When a history records the holder's checks (`lock.check`, `election.check`, ...: a
 * `throwIfLost()` that passed), a holding ended by its release or by the observed loss is taken
 * to end at its last check (or, with none, at the acquisition): what a holder does after its
 * last check is guarded by fencing, not by the lease, and a slow event loop between a check and
 * the release is no double grant. Without checks it ends at the release or the loss.
 *
 * Operation names (docs/verify.md has the full vocabulary):
 * - locks: `lock.acquire` {name} → {token}, `lock.release` {name}, `lock.lost` {name},
 *   `lock.write` {name, token} → {accepted} (a write to the fenced resource), `lock.check` {name};
 * - elections: `election.campaign` {name} → {term}, `election.resign` {name}, `election.lost` {name},
 *   `election.check` {name};
 * - rwlocks: `rwlock.read` / `rwlock.write` {name} → {token}, `rwlock.release`, `rwlock.lost`, `rwlock.check`;
 * - semaphores: `semaphore.acquire` {name, permits} → {token}, `semaphore.release`, `semaphore.lost`;
 * - shards: `shard.acquire` {slot} → {token}, `shard.release` {slot}, `shard.lost` {slot};
 * - sessions: `session.open` → {lease}, `session.lost` {lease} (the client's signal fired),
 *   `session.expired` {lease} (an observer saw the store end the lease);
 * - faults, by a `nemesis` process: `kill` {process}, `pause` {process} (invoke at SIGSTOP, ok at
 *   SIGCONT; never completed: still paused). A fault on process `w1` also hits `w1/lock`,
 *   `w1/election`, ...: the parts of one OS process.
 */
import { invalidArgument } from '../errors.js';
import { History, type Operation, type ProcessId } from './history.js';

/** Which rule a {@link RecipeViolation} breaks. */
export type RecipeRule =
  /** Two holders of a lock, leadership or slot at once (neither paused past its ttl). */
  | 'overlap'
  /** More permit holders of a semaphore than its permits. */
  | 'capacity'
  /** Two acquisitions were given the same fencing token or term. */
  | 'duplicate-token'
  /** An acquisition that began after another completed got a lower or equal token or term. */
  | 'token-order'
  /** The fenced resource accepted a token lower than one it had accepted before. */
  | 'stale-token-accepted'
  /** The store ended a session's lease before the client's signal said so. */
  | 'session-late';

/** A broken safety property, with the operations that show it. */
export interface RecipeViolation {
  readonly rule: RecipeRule;
  /** The lock, election, semaphore or slot name, or the lease id. */
  readonly resource: string;
  /** What happened, in one line. */
  readonly message: string;
  readonly operations: readonly Operation[];
}

/** The outcome of a recipe checker. */
export interface RecipeCheckResult {
  /** True when no rule was broken. */
  readonly valid: boolean;
  readonly violations: readonly RecipeViolation[];
  /** Holdings (or sessions) checked: a checker that saw none proves nothing. */
  readonly holdings: number;
}

/** Options of the recipe checkers. */
export interface RecipeCheckOptions {
  /**
   * The session ttl of the clients: a pause at least this long makes a holding doubtful from the
   * pause's start.
   * @default 0 (any pause does)
   */
  ttlMs?: number;
}

interface Holding {
  readonly resource: string;
  readonly process: ProcessId;
  readonly token: number | undefined;
  readonly acquire: Operation;
  readonly start: number;
  end: number;
  ender: Operation | undefined;
  /** The last `<recipe>.check` of the holding: when its holder last confirmed it. */
  lastCheck?: number;
  /** Capacity declared by the acquire (semaphores). */
  readonly capacity: number;
}

const field = (obj: unknown, name: string): unknown =>
  typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[name] : undefined;

/** `Map.groupBy`, which Node 20 lacks. */
function groupBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Whether a fault on `victim` hits `process`: the process itself or one of its `victim/…` parts. */
function hits(victim: unknown, process: ProcessId): boolean {
  const v = String(victim);
  const p = String(process);
  return p === v || p.startsWith(`${v}/`);
}

function resourceOf(op: Operation, key: string): string {
  const v = field(op.args, key);
  if (typeof v !== 'string' && typeof v !== 'number')
    throw invalidArgument(`operation ${op.index} (${op.op}) args.${key}`, 'must be a string or a number');
  return String(v);
}

function opsOf(history: History | readonly Operation[]): readonly Operation[] {
  return history instanceof History ? history.operations() : history;
}

function checkTtl(options: RecipeCheckOptions): number {
  const ttl = options.ttlMs ?? 0;
  if (!Number.isFinite(ttl) || ttl < 0)
    throw invalidArgument('ttlMs', `must be a number ≥ 0 (got ${String(ttl)})`);
  return ttl;
}

/** The holdings of one recipe, each ended by its release, loss, the holder's death or a long pause. */
function holdingsOf(
  ops: readonly Operation[],
  prefix: string,
  key: string,
  acquireName: string,
  tokenName: string,
  ttlMs: number,
  releaseName = 'release',
): Holding[] {
  const end = ops.reduce(
    (t, o) => Math.max(t, o.invokeTime, Number.isFinite(o.returnTime) ? o.returnTime : 0),
    0,
  );
  const open = new Map<string, Holding>();
  const all: Holding[] = [];
  // A history that records checks ends each released or lost holding at its last check, or at
  // its acquisition when the holder never checked (see the module comment).
  const checked = ops.some((o) => o.op === `${prefix}.check`);
  const close = (h: Holding, at: number, by: Operation) => {
    if (at < h.end) {
      h.end = at;
      h.ender = by;
    }
  };
  // Events in time order: acquisitions open at their completion, the rest close at their invoke.
  const events: { at: number; op: Operation; opens: boolean }[] = [];
  for (const op of ops) {
    if (op.op === `${prefix}.${acquireName}`) {
      if (op.status === 'ok') events.push({ at: op.returnTime, op, opens: true });
    } else if (
      op.op === `${prefix}.${releaseName}` ||
      op.op === `${prefix}.lost` ||
      op.op === `${prefix}.check` ||
      op.op === 'kill'
    )
      events.push({ at: op.invokeTime, op, opens: false });
  }
  // At equal times, in the order the operations were invoked: one process's acquisition comes
  // before its own check or release made at the same instant (a simulated clock stands still
  // while synchronous code runs).
  events.sort((a, b) => a.at - b.at || a.op.index - b.op.index);
  for (const { at, op, opens } of events) {
    if (opens) {
      const resource = resourceOf(op, key);
      const token = field(op.result, tokenName);
      if (token !== undefined && typeof token !== 'number')
        throw invalidArgument(`operation ${op.index} (${op.op}) result.${tokenName}`, 'must be a number');
      const permits = field(op.args, 'permits');
      const h: Holding = {
        resource,
        process: op.process,
        token: token as number | undefined,
        acquire: op,
        start: at,
        end,
        ender: undefined,
        capacity: typeof permits === 'number' ? permits : 1,
      };
      all.push(h);
      open.set(`${String(op.process)}\u0000${resource}`, h);
    } else if (op.op === 'kill') {
      const victim = field(op.args, 'process');
      for (const [k, h] of open)
        if (hits(victim, h.process)) {
          close(h, at, op);
          open.delete(k);
        }
    } else {
      const k = `${String(op.process)}\u0000${resourceOf(op, key)}`;
      const h = open.get(k);
      if (h && op.op === `${prefix}.check`) h.lastCheck = at;
      else if (h) {
        close(h, checked ? (h.lastCheck ?? h.start) : at, op);
        open.delete(k);
      }
    }
  }
  // A pause of at least the ttl during a holding: in doubt from the pause's start.
  for (const pause of ops) {
    if (pause.op !== 'pause' || pause.returnTime - pause.invokeTime < ttlMs) continue;
    const victim = field(pause.args, 'process');
    for (const h of all)
      if (hits(victim, h.process) && pause.invokeTime >= h.start && pause.invokeTime < h.end)
        close(h, pause.invokeTime, pause);
  }
  return all;
}

const describeHolding = (h: Holding, what: string) =>
  `process ${String(h.process)} ${what}${h.token === undefined ? '' : ` ${h.token}`} from ${h.start.toFixed(3)} to ${Number.isFinite(h.end) ? h.end.toFixed(3) : 'the end'} ms`;

/** Holdings of a resource that overlap beyond its capacity (a sweep over starts and ends). */
function capacityViolations(
  holdings: readonly Holding[],
  rule: 'overlap' | 'capacity',
  what: string,
): RecipeViolation[] {
  const out: RecipeViolation[] = [];
  const byResource = groupBy(holdings, (h) => h.resource);
  for (const [resource, list] of byResource) {
    const capacity = Math.min(...list.map((h) => h.capacity));
    const sorted = [...list].filter((h) => h.end > h.start).sort((a, b) => a.start - b.start);
    const active: Holding[] = [];
    for (const h of sorted) {
      for (let i = active.length - 1; i >= 0; i--) if (active[i]!.end <= h.start) active.splice(i, 1);
      active.push(h);
      if (active.length > capacity) {
        out.push({
          rule,
          resource,
          message: `${what} ${resource}: ${active.length} holders at once (at most ${capacity}): ${active.map((a) => describeHolding(a, 'held it with token')).join('; ')}`,
          operations: active.map((a) => a.acquire),
        });
        break; // one report per resource
      }
    }
  }
  return out;
}

/** Tokens unique per resource, and increasing with the real-time order of acquisitions. */
function tokenViolations(holdings: readonly Holding[], what: string, tokenWord: string): RecipeViolation[] {
  const out: RecipeViolation[] = [];
  for (const [resource, list] of groupBy(holdings, (h) => h.resource)) {
    const withToken = list.filter((h) => h.token !== undefined);
    const byToken = groupBy(withToken, (h) => h.token!);
    for (const [token, same] of byToken)
      if (same.length > 1) {
        out.push({
          rule: 'duplicate-token',
          resource,
          message: `${what} ${resource}: ${same.length} acquisitions were given ${tokenWord} ${token} (processes ${same.map((h) => String(h.process)).join(', ')})`,
          operations: same.map((h) => h.acquire),
        });
        break;
      }
    // If A's acquisition completed before B's began, B's token must be higher: B's key was
    // created after A's. Scan B by invoke time, keeping the highest token completed before.
    const byInvoke = [...withToken].sort((a, b) => a.acquire.invokeTime - b.acquire.invokeTime);
    const byReturn = [...withToken].sort((a, b) => a.acquire.returnTime - b.acquire.returnTime);
    let j = 0;
    let best: Holding | undefined;
    for (const b of byInvoke) {
      while (j < byReturn.length && byReturn[j]!.acquire.returnTime < b.acquire.invokeTime) {
        const a = byReturn[j++]!;
        if (best === undefined || a.token! > best.token!) best = a;
      }
      if (best !== undefined && b.token! <= best.token!) {
        out.push({
          rule: 'token-order',
          resource,
          message: `${what} ${resource}: process ${String(b.process)} asked after process ${String(best.process)} had ${tokenWord} ${best.token}, and was given ${tokenWord} ${b.token}`,
          operations: [best.acquire, b.acquire],
        });
        break;
      }
    }
  }
  return out;
}

function result(violations: RecipeViolation[], holdings: number): RecipeCheckResult {
  return { valid: violations.length === 0, violations, holdings };
}

/**
 * Locks (Mutex): no two holders at once unless one was paused past its ttl; fencing tokens
 * unique and increasing in the order of acquisition; and the fenced resource (`lock.write`)
 * never accepts a token lower than one it accepted before.
 * @throws TENURE_INVALID_ARGUMENT for a malformed lock operation or a bad option.
 */
export function checkLocks(
  history: History | readonly Operation[],
  options: RecipeCheckOptions = {},
): RecipeCheckResult {
  const ops = opsOf(history);
  const holdings = holdingsOf(ops, 'lock', 'name', 'acquire', 'token', checkTtl(options));
  const violations = [
    ...capacityViolations(holdings, 'overlap', 'lock'),
    ...tokenViolations(holdings, 'lock', 'token'),
  ];
  // The resource's side: accepted writes in real-time order never go back to a lower token.
  for (const [resource, writes] of groupBy(
    ops.filter((o) => o.op === 'lock.write' && o.status === 'ok' && field(o.result, 'accepted') === true),
    (o) => resourceOf(o, 'name'),
  )) {
    const tokenOf = (o: Operation) => {
      const t = field(o.args, 'token');
      if (typeof t !== 'number')
        throw invalidArgument(`operation ${o.index} (lock.write) args.token`, 'must be a number');
      return t;
    };
    const byReturn = [...writes].sort((a, b) => a.returnTime - b.returnTime);
    let j = 0;
    let best: Operation | undefined;
    for (const w of [...writes].sort((a, b) => a.invokeTime - b.invokeTime)) {
      while (j < byReturn.length && byReturn[j]!.returnTime < w.invokeTime) {
        const a = byReturn[j++]!;
        if (best === undefined || tokenOf(a) > tokenOf(best)) best = a;
      }
      if (best !== undefined && tokenOf(w) < tokenOf(best)) {
        violations.push({
          rule: 'stale-token-accepted',
          resource,
          message: `lock ${resource}: the resource accepted token ${tokenOf(w)} from process ${String(w.process)} after accepting token ${tokenOf(best)} from process ${String(best.process)}`,
          operations: [best, w],
        });
        break;
      }
    }
  }
  return result(violations, holdings.length);
}

/**
 * Elections: one leader at a time unless one was paused past its ttl; one leader per term; a
 * campaign that began after another won has a higher term.
 * @throws TENURE_INVALID_ARGUMENT for a malformed election operation or a bad option.
 */
export function checkElections(
  history: History | readonly Operation[],
  options: RecipeCheckOptions = {},
): RecipeCheckResult {
  const holdings = holdingsOf(
    opsOf(history),
    'election',
    'name',
    'campaign',
    'term',
    checkTtl(options),
    'resign',
  );
  return result(
    [
      ...capacityViolations(holdings, 'overlap', 'election'),
      ...tokenViolations(holdings, 'election', 'term'),
    ],
    holdings.length,
  );
}

/**
 * Read-write locks (RWLock): a writer holds alone (no other writer, no reader) unless one of
 * them was paused past its ttl; readers share. Tokens unique and increasing over both modes (each
 * acquisition creates its own key). Operations: `rwlock.read` / `rwlock.write` {name} → {token},
 * `rwlock.release`, `rwlock.lost`, `rwlock.check` {name}.
 * @throws TENURE_INVALID_ARGUMENT for a malformed rwlock operation or a bad option.
 */
export function checkRWLocks(
  history: History | readonly Operation[],
  options: RecipeCheckOptions = {},
): RecipeCheckResult {
  const ops = opsOf(history);
  const ttl = checkTtl(options);
  const readers = holdingsOf(ops, 'rwlock', 'name', 'read', 'token', ttl);
  const writers = holdingsOf(ops, 'rwlock', 'name', 'write', 'token', ttl);
  const all = [...readers, ...writers];
  const violations: RecipeViolation[] = [];
  const byResource = groupBy(all, (h) => h.resource);
  for (const w of writers) {
    const other = byResource
      .get(w.resource)!
      .find((h) => h !== w && h.end > h.start && w.end > w.start && h.start < w.end && w.start < h.end);
    if (other !== undefined) {
      const mode = writers.includes(other) ? 'writer' : 'reader';
      violations.push({
        rule: 'overlap',
        resource: w.resource,
        message: `rwlock ${w.resource}: a writer and a ${mode} at once: ${describeHolding(w, 'wrote with token')}; ${describeHolding(other, 'held it with token')}`,
        operations: [w.acquire, other.acquire],
      });
      break; // one report
    }
  }
  violations.push(...tokenViolations(all, 'rwlock', 'token'));
  return result(violations, all.length);
}

/**
 * Semaphores: at most `permits` holders at once (the smallest `permits` any acquire declared)
 * unless paused past their ttl; tokens unique and increasing.
 * @throws TENURE_INVALID_ARGUMENT for a malformed semaphore operation or a bad option.
 */
export function checkSemaphores(
  history: History | readonly Operation[],
  options: RecipeCheckOptions = {},
): RecipeCheckResult {
  const holdings = holdingsOf(opsOf(history), 'semaphore', 'name', 'acquire', 'token', checkTtl(options));
  return result(
    [
      ...capacityViolations(holdings, 'capacity', 'semaphore'),
      ...tokenViolations(holdings, 'semaphore', 'token'),
    ],
    holdings.length,
  );
}

/**
 * Shards: one owner per slot at a time unless paused past its ttl; tokens unique per slot and
 * increasing in the order of acquisition.
 * @throws TENURE_INVALID_ARGUMENT for a malformed shard operation or a bad option.
 */
export function checkShards(
  history: History | readonly Operation[],
  options: RecipeCheckOptions = {},
): RecipeCheckResult {
  const holdings = holdingsOf(opsOf(history), 'shard', 'slot', 'acquire', 'token', checkTtl(options));
  return result(
    [...capacityViolations(holdings, 'overlap', 'slot'), ...tokenViolations(holdings, 'slot', 'token')],
    holdings.length,
  );
}

/**
 * Sessions: the client's signal fires before the store ends the lease. For every lease an
 * observer saw expire (`session.expired`), its client must have reported `session.lost` no later
 * than the observation completed, unless the client was killed or paused before then (a paused
 * process runs no timer; the README's "signal.aborted can lag"). The observation completes after
 * the store's expiry, so a reported violation is certain; a late signal right before the
 * observation may go unseen.
 * @throws TENURE_INVALID_ARGUMENT for a malformed session operation or a bad option.
 */
export function checkSessions(
  history: History | readonly Operation[],
  options: RecipeCheckOptions = {},
): RecipeCheckResult {
  checkTtl(options);
  const ops = opsOf(history);
  const leaseOf = (o: Operation, where: 'args' | 'result') => {
    const v = field(where === 'args' ? o.args : o.result, 'lease');
    if (typeof v !== 'string' && typeof v !== 'number')
      throw invalidArgument(`operation ${o.index} (${o.op}) ${where}.lease`, 'must be a string or a number');
    return String(v);
  };
  const opened = new Map<string, Operation>();
  for (const o of ops) if (o.op === 'session.open' && o.status === 'ok') opened.set(leaseOf(o, 'result'), o);
  const lost = new Map<string, Operation>();
  for (const o of ops) if (o.op === 'session.lost') lost.set(leaseOf(o, 'args'), o);
  const violations: RecipeViolation[] = [];
  for (const seen of ops) {
    if (seen.op !== 'session.expired' || seen.status !== 'ok') continue;
    const lease = leaseOf(seen, 'args');
    const open = opened.get(lease);
    if (open === undefined) continue;
    const by = seen.returnTime;
    const excused = ops.some(
      (f) =>
        (f.op === 'kill' || f.op === 'pause') &&
        hits(field(f.args, 'process'), open.process) &&
        f.invokeTime >= open.returnTime &&
        f.invokeTime <= by,
    );
    if (excused) continue;
    const signal = lost.get(lease);
    if (signal === undefined || signal.invokeTime > by)
      violations.push({
        rule: 'session-late',
        resource: lease,
        message: `session ${lease} of process ${String(open.process)}: the store had ended the lease by ${by.toFixed(3)} ms, but the client's signal ${signal === undefined ? 'never fired' : `fired only at ${signal.invokeTime.toFixed(3)} ms`}`,
        operations: signal === undefined ? [open, seen] : [open, seen, signal],
      });
  }
  return result(violations, opened.size);
}
