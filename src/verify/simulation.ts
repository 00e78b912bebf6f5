/**
 * Deterministic simulation of the Mutex and Election recipes over the memory store: one seed
 * decides every delay, fault and pause, simulated time moves only from timer to timer, and a
 * failing seed replays exactly, printing its schedule.
 *
 * What a seed does: three simulated processes, each with its own Session, take a Mutex and write
 * to a fenced register, and campaign in an Election, for `durationMs` of simulated time. Every
 * store call goes through the process's own link to the store, which delays the request and the
 * reply (so replies arrive reordered), fails some calls before they reach the store
 * (unavailable), applies some writes and then loses their reply (ambiguous commits), loses
 * keepalives, and is cut off entirely during outages. A process may be paused (as by SIGSTOP):
 * its timers and replies wait until it resumes, while time, and its lease, run on. The history
 * of what each process did then goes through the lock and election checkers.
 *
 * Not simulated yet: clock drift, Semaphore, RWLock, Membership and ShardManager.
 */
import type { Clock, Timer } from '../clock.js';
import { TenureError, invalidArgument } from '../errors.js';
import { Election, Mutex, Session } from '../recipes/index.js';
import { MemoryStore } from '../store/memory/index.js';
import type { Store, TxnRequest, TxnResponse, WatchBatch, WatchOptions } from '../store/types.js';
import { History, type HistoryEvent } from './history.js';
import { checkElections, checkLocks, type RecipeViolation } from './recipes.js';
import { seededRandom } from './workload.js';

/**
 * A deliberately broken variant, for negative controls (the recipes themselves are not changed;
 * what breaks is what they rely on):
 * - `unchecked-client`: the client never checks its lock before writing (as if its session had no
 *   client-side deadline) and trusts it until it releases;
 * - `blind-queue`: reads of a queue show a process only its own keys, so a lock waiter sees no
 *   one ahead of it (a lock that skips the check of the keys ahead of its own).
 */
export type SimulationVariant = 'correct' | 'unchecked-client' | 'blind-queue';

/** The variants of {@link simulate}. */
export const SIMULATION_VARIANTS: readonly SimulationVariant[] = Object.freeze([
  'correct',
  'unchecked-client',
  'blind-queue',
]);

/** Options of {@link simulate}. Invalid ones throw TENURE_INVALID_ARGUMENT naming the option. */
export interface SimulationOptions {
  /** The seed: the same seed replays the same run. */
  seed: number;
  /** Simulated time the processes run. @default 4000 */
  durationMs?: number;
  /** The sessions' ttl. @default 500 (the memory store's minimum) */
  ttlMs?: number;
  /** Simulated processes. @default 3 */
  processes?: number;
  /** @default 'correct' */
  variant?: SimulationVariant;
}

/** What one seed did. */
export interface SimulationResult {
  readonly seed: number;
  readonly variant: SimulationVariant;
  readonly violations: readonly RecipeViolation[];
  /** Holdings of the lock and leaderships checked. */
  readonly holdings: number;
  /** The faults and pauses the seed chose, one line each, in time order. */
  readonly schedule: readonly string[];
  readonly history: History;
}

interface SimTimer extends Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Simulated time: timers fire one at a time, in time order (ties in creation order). */
class SimClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #timers: SimTimer[] = [];

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const timer: SimTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
      unref() {
        return this;
      },
    };
    // Kept sorted by (at, seq): insertion from the end, where new timers mostly land.
    let i = this.#timers.length;
    while (
      i > 0 &&
      (this.#timers[i - 1]!.at > timer.at ||
        (this.#timers[i - 1]!.at === timer.at && this.#timers[i - 1]!.seq > timer.seq))
    )
      i--;
    this.#timers.splice(i, 0, timer);
    return timer;
  }
  clearTimeout(timer: Timer): void {
    (timer as SimTimer).cancelled = true;
  }
  /** Fires the next timer due by `until`; false when there is none. */
  fireNext(until: number): boolean {
    while (this.#timers.length > 0 && this.#timers[0]!.cancelled) this.#timers.shift();
    const next = this.#timers[0];
    if (next === undefined || next.at > until) return false;
    this.#timers.shift();
    this.#now = Math.max(this.#now, next.at);
    next.fn();
    return true;
  }
}

/** One process's view of time: while it is paused, its timers wait for it to resume. */
class ProcessClock implements Clock {
  paused = false;
  #held: (() => void)[] = [];
  constructor(readonly sim: SimClock) {}
  now(): number {
    return this.sim.now();
  }
  setTimeout(fn: () => void, ms: number): Timer {
    return this.sim.setTimeout(() => (this.paused ? this.#held.push(fn) : fn()), ms);
  }
  clearTimeout(timer: Timer): void {
    this.sim.clearTimeout(timer);
  }
  resume(): void {
    this.paused = false;
    for (const fn of this.#held.splice(0)) fn();
  }
}

/**
 * The memory store, without its yield to the event loop: it yields after a few milliseconds of
 * wall-clock busy time, which would make the interleaving depend on the host's speed. In the
 * simulation nothing else needs the event loop: time moves only between the driver's steps.
 */
class SimMemoryStore extends MemoryStore {
  protected override async yieldToEventLoop(): Promise<void> {}
}

const unavailable = () => new TenureError('TENURE_UNAVAILABLE', 'simulated: the store did not answer');

/** Settles the microtasks and event-loop turns a fired timer set off. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs one seed. Deterministic: the same options give the same history and schedule.
 *
 * @example
 * ```ts
 * const r = await simulate({ seed: 42 });
 * if (r.violations.length > 0) console.log(r.schedule.join('\n'));
 * ```
 */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const { seed, durationMs = 4000, ttlMs = 500, processes = 3, variant = 'correct' } = options;
  if (!Number.isSafeInteger(seed)) throw invalidArgument('seed', `must be an integer (got ${String(seed)})`);
  if (!SIMULATION_VARIANTS.includes(variant))
    throw invalidArgument(
      'variant',
      `must be one of ${SIMULATION_VARIANTS.join(', ')} (got ${String(variant)})`,
    );
  if (!Number.isSafeInteger(processes) || processes < 1 || processes > 16)
    throw invalidArgument('processes', `must be an integer from 1 to 16 (got ${String(processes)})`);
  if (!(durationMs > 0) || !Number.isFinite(durationMs))
    throw invalidArgument('durationMs', `must be a positive number (got ${String(durationMs)})`);
  const rnd = seededRandom(seed * 2654435761);
  const sim = new SimClock();
  const memory = new SimMemoryStore({ clock: sim });
  if (!(ttlMs >= memory.capabilities.minTtlMs) || !Number.isFinite(ttlMs)) {
    await memory.close();
    throw invalidArgument(
      'ttlMs',
      `must be at least the memory store's minimum ttl, ${memory.capabilities.minTtlMs} ms (got ${String(ttlMs)})`,
    );
  }
  const history = new History();
  const schedule: string[] = [];
  const at = () => sim.now().toFixed(1);
  // Calls the memory store is working on: they may yield to the event loop, and the next timer
  // must not fire before they are done, or the interleaving would depend on the host's speed.
  let working = 0;
  let serial: Promise<void> = Promise.resolve();
  // Outages: the store unreachable for a while.
  const outages: [number, number][] = [];
  for (let t = rnd() * durationMs; t < durationMs; t += durationMs * (0.3 + rnd())) {
    const length = ttlMs * (0.2 + rnd() * 1.6);
    outages.push([t, t + length]);
    schedule.push(`${t.toFixed(1)} outage for ${length.toFixed(1)} ms`);
  }
  const down = () => outages.some(([a, b]) => sim.now() >= a && sim.now() < b);
  let fence = 0;

  /** A process's link to the store: delays, drops and ambiguous replies, paused with it. */
  const link = (clock: ProcessClock, name: string, leases: Set<string>): Store => {
    const delay = () => rnd() * 20;
    const call = <T>(write: boolean, run: () => Promise<T>, lossRate = 0.02): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const finish = (fn: () => void) => clock.setTimeout(fn, delay());
        clock.setTimeout(() => {
          if (down() || rnd() < lossRate) {
            finish(() => reject(unavailable()));
            return;
          }
          const ambiguous = write && rnd() < 0.02;
          working++;
          // One call at a time, in the order they reach the store: the memory store may yield to
          // the event loop inside a call, and two calls must not race past each other there.
          const applied = serial.then(run);
          serial = applied.then(
            () => undefined,
            () => undefined,
          );
          applied.then(
            (v) => {
              working--;
              if (ambiguous) schedule.push(`${at()} ${name}: reply of an applied write lost`);
              finish(() => (ambiguous ? reject(unavailable()) : resolve(v)));
            },
            (err: unknown) => {
              working--;
              finish(() => reject(err));
            },
          );
        }, delay());
      });
    const blind = (res: TxnResponse, req: TxnRequest): TxnResponse => {
      const ops = res.succeeded ? (req.success ?? []) : (req.failure ?? []);
      return {
        ...res,
        results: res.results.map((r, i) =>
          r.type === 'get' && ops[i]?.type === 'get' && ops[i].prefix
            ? { ...r, kvs: r.kvs.filter((kv) => kv.lease !== null && leases.has(kv.lease)) }
            : r,
        ),
      };
    };
    return new Proxy(memory, {
      get(target, prop) {
        switch (prop) {
          case 'txn':
            return (req: TxnRequest) =>
              call(true, () =>
                target.txn(req).then((res) => (variant === 'blind-queue' ? blind(res, req) : res)),
              );
          case 'get':
          case 'range':
          case 'revision':
          case 'timeToLive':
            return (...args: unknown[]) =>
              call(false, () => (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args));
          case 'put':
          case 'delete':
          case 'revoke':
            return (...args: unknown[]) =>
              call(true, () => (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args));
          case 'grant':
            return (ttl: number) =>
              call(true, () =>
                target.grant(ttl).then((l) => {
                  leases.add(l.id);
                  return l;
                }),
              );
          case 'keepAlive':
            return (id: string) => call(true, () => target.keepAlive(id), 0.1);
          case 'watch':
            // Events reach the process after a delay of their own, in order, and not while it is paused.
            return (key: string, opts?: WatchOptions): AsyncIterable<WatchBatch> => ({
              async *[Symbol.asyncIterator]() {
                for await (const batch of target.watch(key, opts)) {
                  await new Promise<void>((r) => clock.setTimeout(r, delay()));
                  yield batch;
                }
              },
            });
          default: {
            const v = Reflect.get(target, prop, target) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          }
        }
      },
    });
  };

  const emit = (e: Omit<HistoryEvent, 'time'>) => history.add({ ...e, time: sim.now() } as HistoryEvent);
  const stop = new AbortController();
  const clocks: ProcessClock[] = [];
  const sleep = (clock: Clock, ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));

  /** Records `call` as one operation; a failure whose outcome is unknown is `info`. */
  const step = async <T>(
    p: string,
    op: string,
    args: Record<string, unknown>,
    fn: () => Promise<T>,
    result: (v: T) => unknown,
  ) => {
    emit({ type: 'invoke', process: p, op, args });
    try {
      const v = await fn();
      emit({ type: 'ok', process: p, op, result: result(v) });
      return v;
    } catch (err) {
      emit({
        type: 'fail',
        process: p,
        op,
        result: { error: err instanceof TenureError ? err.code : String(err) },
      });
      throw err;
    }
  };
  const observe = (p: string, op: string, args: Record<string, unknown>) => {
    emit({ type: 'invoke', process: p, op, args });
    emit({ type: 'ok', process: p, op });
  };

  const runProcess = async (index: number) => {
    const name = `p${index}`;
    const clock = new ProcessClock(sim);
    clocks.push(clock);
    const store = link(clock, name, new Set());
    let session: Session | undefined;
    const live = async () => {
      if (session?.alive) return session;
      await session?.close().catch(() => undefined);
      session = await Session.create(store, { ttlMs, clock });
      return session;
    };
    const lockLoop = async () => {
      const p = `${name}/lock`;
      while (!stop.signal.aborted) {
        try {
          const mutex = new Mutex(await live(), 'm');
          const lock = await step(
            p,
            'lock.acquire',
            { name: 'm' },
            () => mutex.lock({ signal: stop.signal }),
            (l) => ({
              token: l.fencingToken,
            }),
          );
          let lost = false;
          for (let i = 0; i < 2 && !lost; i++) {
            if (variant !== 'unchecked-client') {
              try {
                lock.throwIfLost();
                observe(p, 'lock.check', { name: 'm' });
              } catch {
                observe(p, 'lock.lost', { name: 'm' });
                lost = true;
                break;
              }
            }
            const token = lock.fencingToken;
            // The fenced register answers after a delay of its own (the write may be overtaken).
            emit({ type: 'invoke', process: p, op: 'lock.write', args: { name: 'm', token } });
            await sleep(clock, rnd() * 10);
            const accepted = token >= fence;
            if (accepted) fence = Math.max(fence, token);
            emit({ type: 'ok', process: p, op: 'lock.write', result: { accepted } });
            await sleep(clock, rnd() * 50);
          }
          if (!lost)
            await step(
              p,
              'lock.release',
              { name: 'm' },
              () => lock.close(),
              () => undefined,
            ).catch(() => undefined);
          else await lock.close().catch(() => undefined);
        } catch {
          await sleep(clock, 10);
        }
      }
    };
    const electionLoop = async () => {
      const p = `${name}/election`;
      while (!stop.signal.aborted) {
        try {
          const election = new Election(await live(), 'e');
          const leadership = await step(
            p,
            'election.campaign',
            { name: 'e' },
            () => election.campaign(name, { signal: stop.signal }),
            (l) => ({ term: l.term }),
          );
          let lost = false;
          for (let i = 0; i < 2; i++) {
            await sleep(clock, rnd() * 60);
            try {
              leadership.throwIfLost();
              observe(p, 'election.check', { name: 'e' });
            } catch {
              observe(p, 'election.lost', { name: 'e' });
              lost = true;
              break;
            }
          }
          if (!lost)
            await step(
              p,
              'election.resign',
              { name: 'e' },
              () => leadership.close(),
              () => undefined,
            ).catch(() => undefined);
          else await leadership.close().catch(() => undefined);
        } catch {
          await sleep(clock, 10);
        }
      }
    };
    await Promise.all([lockLoop(), electionLoop()]);
    await session?.close().catch(() => undefined);
  };

  // Pauses, chosen up front: a process stopped for 0.5 to 2 ttls.
  const pauses: { at: number; index: number; ms: number }[] = [];
  for (let t = rnd() * durationMs; t < durationMs; t += durationMs * (0.25 + rnd() * 0.5))
    pauses.push({ at: t, index: Math.floor(rnd() * processes), ms: ttlMs * (0.5 + rnd() * 1.5) });
  for (const pause of pauses) {
    schedule.push(`${pause.at.toFixed(1)} pause p${pause.index} for ${pause.ms.toFixed(1)} ms`);
    sim.setTimeout(() => {
      const clock = clocks[pause.index];
      if (clock === undefined || clock.paused) return;
      emit({
        type: 'invoke',
        process: `nemesis/p${pause.index}`,
        op: 'pause',
        args: { process: `p${pause.index}` },
      });
      clock.paused = true;
      sim.setTimeout(() => {
        emit({ type: 'ok', process: `nemesis/p${pause.index}`, op: 'pause' });
        clock.resume();
      }, pause.ms);
    }, pause.at);
  }
  schedule.sort((a, b) => parseFloat(a) - parseFloat(b));

  const running = Promise.all(Array.from({ length: processes }, (_, i) => runProcess(i)));
  // Drive: one timer at a time, then let everything it set off settle before the next.
  const settle = async () => {
    do await turn();
    while (working > 0);
    await turn();
  };
  await settle();
  // Timers due within one millisecond of each other fire together, in order, before their
  // effects settle: a coarser grain of interleaving, as deterministic, and far fewer turns of the
  // event loop (which cost most of a seed's time).
  while (sim.fireNext(durationMs)) {
    const grain = sim.now() + 1;
    while (sim.fireNext(Math.min(grain, durationMs)));
    await settle();
  }
  stop.abort();
  for (const c of clocks) c.resume();
  // Wind down: let the loops see the abort and close their sessions (timers past the end still
  // fire, outages stop), for at most 20 ttls of simulated time.
  outages.length = 0;
  while (sim.fireNext(durationMs + 20 * ttlMs)) await settle();
  await Promise.race([running, turn()]);
  await memory.close();

  const locks = checkLocks(history, { ttlMs });
  const elections = checkElections(history, { ttlMs });
  return {
    seed,
    variant,
    violations: [...locks.violations, ...elections.violations],
    holdings: locks.holdings + elections.holdings,
    schedule,
    history,
  };
}
