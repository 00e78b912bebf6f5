/**
 * Deterministic simulation of every recipe over the memory store: one seed decides every delay,
 * fault, pause and clock rate, simulated time moves only from timer to timer, and a failing seed
 * replays exactly, printing its schedule.
 *
 * What a seed does: a few simulated processes use one recipe (Mutex, Election, Semaphore, RWLock,
 * Session, Membership or ShardManager: sim-scenarios.ts) for `durationMs` of simulated time.
 * Every store call goes through the process's own link to the store, which delays the request and
 * the reply (so replies arrive reordered), fails some calls before they reach the store
 * (unavailable), applies some writes and then loses their reply (ambiguous commits), loses
 * keepalives, and is cut off entirely during outages. A process may be paused (as by SIGSTOP):
 * its timers and replies wait until it resumes, while time, and its lease, run on. Each process's
 * clock runs at its own rate, off the store's by at most `maxDriftPpm` (the Session's documented
 * allowance). The history of what each process did and saw then goes through the recipe's checker.
 */
import { ManualClock, type Clock, type Timer } from '../clock.js';
import { TenureError, invalidArgument } from '../errors.js';
import { MemoryStore } from '../store/memory/index.js';
import type {
  Lease,
  LeaseId,
  Store,
  TxnRequest,
  TxnResponse,
  WatchBatch,
  WatchOptions,
} from '../store/types.js';
import { History, type HistoryEvent } from './history.js';
import type { RecipeViolation } from './recipes.js';
import { SCENARIOS, type SimContext, type SimProcess } from './sim-scenarios.js';
import { seededRandom } from './workload.js';

/** A recipe the simulation runs. */
export type SimulationRecipe =
  'mutex' | 'election' | 'semaphore' | 'rwlock' | 'session' | 'membership' | 'shards';

/** The recipes of {@link simulate}, in the order a run over many seeds cycles through them. */
export const SIMULATION_RECIPES: readonly SimulationRecipe[] = Object.freeze([
  'mutex',
  'election',
  'semaphore',
  'rwlock',
  'session',
  'membership',
  'shards',
]);

/**
 * A deliberately broken variant, for negative controls. The real recipes have no unsafe option:
 * what breaks is either what a recipe relies on, or the recipe is replaced by a test double
 * (sim-doubles.ts) that leaves out the one thing that makes it safe.
 * - `unchecked-client` (mutex): the client never checks its lock before writing (as if its
 *   session had no client-side deadline) and trusts it until it releases;
 * - `blind-queue` (mutex): reads of a queue show a process only its own keys, so a lock waiter
 *   sees no one ahead of it (a lock that skips the check of the keys ahead of its own);
 * - `no-deadline-session` (session): a session that learns of its lease's end only from a
 *   refused keepalive (no client-side deadline);
 * - `uncompared-election` (election): a campaign that reads the leader key and puts its own
 *   without a revision compare;
 * - `table-from-view` (shards): each member owns the slots of a table it computes from its own
 *   view of the members, without the previous table (and without claiming them in the store).
 */
export type SimulationVariant =
  | 'correct'
  | 'unchecked-client'
  | 'blind-queue'
  | 'no-deadline-session'
  | 'uncompared-election'
  | 'table-from-view';

/** The recipe each broken variant breaks. */
export const VARIANT_RECIPE: Readonly<Record<Exclude<SimulationVariant, 'correct'>, SimulationRecipe>> =
  Object.freeze({
    'unchecked-client': 'mutex',
    'blind-queue': 'mutex',
    'no-deadline-session': 'session',
    'uncompared-election': 'election',
    'table-from-view': 'shards',
  });

/** The variants of {@link simulate}. */
export const SIMULATION_VARIANTS: readonly SimulationVariant[] = Object.freeze([
  'correct',
  'unchecked-client',
  'blind-queue',
  'no-deadline-session',
  'uncompared-election',
  'table-from-view',
]);

/** Defaults of {@link SimulationOptions}. */
export const SIMULATION_DEFAULTS = Object.freeze({
  /** Four ttls: time for a few holdings, an outage and a pause past the ttl. */
  durationMs: 2000,
  /** The memory store's minimum ttl: the shortest run that still shows ttl effects. */
  ttlMs: 500,
  processes: 3,
  /** The Session counts its ttl 0.1% short to cover clocks that far apart (session.ts). */
  maxDriftPpm: 1000,
});

/** Options of {@link simulate}. Invalid ones throw TENURE_INVALID_ARGUMENT naming the option. */
export interface SimulationOptions {
  /** The seed: the same seed replays the same run. */
  seed: number;
  /**
   * The recipe to run.
   * @default the variant's recipe; for `correct`, `mutex`
   */
  recipe?: SimulationRecipe;
  /** Simulated time the processes run. @default 2000 (four ttls) */
  durationMs?: number;
  /** The sessions' ttl. @default 500 (the memory store's minimum) */
  ttlMs?: number;
  /** Simulated processes. @default 3 */
  processes?: number;
  /**
   * Largest difference, in parts per million, between a process's clock rate and the store's:
   * each process draws its rate within it. @default 1000 (the Session's allowance, 0.1%)
   */
  maxDriftPpm?: number;
  /** @default 'correct' */
  variant?: SimulationVariant;
}

/** What one seed did. */
export interface SimulationResult {
  /** The seed run: `simulate()` with the same options replays it. */
  readonly seed: number;
  readonly recipe: SimulationRecipe;
  readonly variant: SimulationVariant;
  /** What the recipe's checker found; empty when every rule held. */
  readonly violations: readonly RecipeViolation[];
  /** Holdings (of locks, leaderships, permits, slots) or sessions checked. */
  readonly holdings: number;
  /** The faults, pauses and clock rates the seed chose, one line each, in time order. */
  readonly schedule: readonly string[];
  /** Everything the processes did and saw (JSON lines with `toJsonLines()`). */
  readonly history: History;
}

/**
 * A seed's outcome for people: the verdict, each violation, the `simulate()` call that replays
 * the seed, and its schedule (for a failing seed: what to read first).
 *
 * @example
 * ```ts
 * const r = await simulate({ seed: 5, variant: 'no-deadline-session' });
 * if (r.violations.length > 0) console.error(renderSimulation(r));
 * ```
 */
export function renderSimulation(r: SimulationResult): string {
  return [
    `seed ${r.seed} (${r.recipe}, ${r.variant}): ${r.violations.length === 0 ? `ok, ${r.holdings} holdings checked` : `${r.violations.length} violation(s)`}`,
    ...r.violations.map((v) => `  ${v.rule}: ${v.message}`),
    `replay: simulate({ seed: ${r.seed}, recipe: '${r.recipe}', variant: '${r.variant}' })`,
    'schedule:',
    ...r.schedule.map((line) => `  ${line}`),
  ].join('\n');
}

/**
 * One process's view of time: its own monotonic clock, running at `rate` times the store's from
 * its own origin; while it is paused, its timers wait for it to resume.
 */
class ProcessClock implements Clock {
  paused = false;
  #held: (() => void)[] = [];
  constructor(
    readonly sim: ManualClock,
    readonly rate = 1,
    readonly origin = 0,
  ) {}
  now(): number {
    return this.origin + this.sim.now() * this.rate;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    return this.sim.setTimeout(() => (this.paused ? this.#held.push(fn) : fn()), ms / this.rate);
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
 * The memory store, without its yield to the event loop (it yields after a few milliseconds of
 * wall-clock busy time, which would make the interleaving depend on the host's speed; in the
 * simulation nothing else needs the event loop), and telling when each lease is due to expire:
 * the observer of session scenarios then asks the store whether it did.
 */
class SimMemoryStore extends MemoryStore {
  onLeaseDue: ((id: LeaseId, at: number) => void) | undefined;
  readonly revoked = new Set<LeaseId>();
  readonly #now: () => number;
  constructor(clock: Clock) {
    super({ clock });
    this.#now = () => clock.now();
  }
  protected override async yieldToEventLoop(): Promise<void> {}
  protected override async doGrant(ttlMs: number): Promise<Lease> {
    const lease = await super.doGrant(ttlMs);
    this.onLeaseDue?.(lease.id, this.#now() + ttlMs);
    return lease;
  }
  protected override async doKeepAlive(id: LeaseId): Promise<number> {
    const ttl = await super.doKeepAlive(id);
    this.onLeaseDue?.(id, this.#now() + ttl);
    return ttl;
  }
  protected override async doRevoke(id: LeaseId): Promise<void> {
    this.revoked.add(id);
    await super.doRevoke(id);
  }
}

const unavailable = () => new TenureError('TENURE_UNAVAILABLE', 'simulated: the store did not answer');

/** Settles the microtasks and event-loop turns a fired timer set off. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The recipe a run uses, and its checks. */
function recipeOf(recipe: SimulationRecipe | undefined, variant: SimulationVariant): SimulationRecipe {
  if (!SIMULATION_VARIANTS.includes(variant))
    throw invalidArgument(
      'variant',
      `must be one of ${SIMULATION_VARIANTS.join(', ')} (got ${String(variant)})`,
    );
  const implied = variant === 'correct' ? undefined : VARIANT_RECIPE[variant];
  if (recipe === undefined) return implied ?? 'mutex';
  if (!SIMULATION_RECIPES.includes(recipe))
    throw invalidArgument(
      'recipe',
      `must be one of ${SIMULATION_RECIPES.join(', ')} (got ${String(recipe)})`,
    );
  if (implied !== undefined && implied !== recipe)
    throw invalidArgument('recipe', `must be ${implied} for variant ${variant} (got ${recipe})`);
  return recipe;
}

/**
 * Runs one seed. Deterministic: the same options give the same history and schedule (also when
 * several seeds run at once in one process: each keeps to its own simulated time).
 *
 * @example
 * ```ts
 * const r = await simulate({ seed: 42, recipe: 'semaphore' });
 * if (r.violations.length > 0) console.log(r.schedule.join('\n'));
 * ```
 * @throws TENURE_INVALID_ARGUMENT for a bad option (named).
 */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const d = SIMULATION_DEFAULTS;
  const {
    seed,
    durationMs = d.durationMs,
    ttlMs = d.ttlMs,
    processes = d.processes,
    maxDriftPpm = d.maxDriftPpm,
    variant = 'correct',
  } = options;
  if (!Number.isSafeInteger(seed)) throw invalidArgument('seed', `must be an integer (got ${String(seed)})`);
  const recipe = recipeOf(options.recipe, variant);
  if (!Number.isSafeInteger(processes) || processes < 1 || processes > 16)
    throw invalidArgument('processes', `must be an integer from 1 to 16 (got ${String(processes)})`);
  if (!(durationMs > 0) || !Number.isFinite(durationMs))
    throw invalidArgument('durationMs', `must be a positive number (got ${String(durationMs)})`);
  if (!(maxDriftPpm >= 0 && maxDriftPpm <= 100_000))
    throw invalidArgument('maxDriftPpm', `must be a number from 0 to 100000 (got ${String(maxDriftPpm)})`);
  const rnd = seededRandom(seed * 2654435761);
  const sim = new ManualClock();
  const memory = new SimMemoryStore(sim);
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
  // Calls the memory store is working on: the next timer must not fire before they are done.
  let working = 0;
  let serial: Promise<void> = Promise.resolve();
  // Outages: the store unreachable for a while, by everyone or (a partition) by one process.
  const outages: { from: number; to: number; index: number }[] = [];
  for (let t = rnd() * durationMs; t < durationMs; t += durationMs * (0.3 + rnd())) {
    const length = ttlMs * (0.2 + rnd() * 1.6);
    const index = rnd() < 0.5 ? -1 : Math.floor(rnd() * processes);
    outages.push({ from: t, to: t + length, index });
    schedule.push(
      `${t.toFixed(1)} ${index < 0 ? 'outage' : `partition of p${index}`} for ${length.toFixed(1)} ms`,
    );
  }
  const down = (index: number) => {
    const now = sim.now();
    for (const o of outages)
      if (now >= o.from && now < o.to && (o.index < 0 || o.index === index)) return true;
    return false;
  };

  /** A process's link to the store: delays, drops and ambiguous replies, paused with it. */
  const link = (clock: ProcessClock, index: number, leases: Set<string>): Store => {
    const name = `p${index}`;
    const delay = () => rnd() * 20;
    const call = <T>(write: boolean, run: () => Promise<T>, lossRate = 0.02): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const finish = (fn: () => void) => clock.setTimeout(fn, delay());
        clock.setTimeout(() => {
          if (down(index) || rnd() < lossRate) {
            finish(() => reject(unavailable()));
            return;
          }
          const ambiguous = write && rnd() < 0.02;
          working++;
          // One call at a time, in the order they reach the store.
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
    const passRead =
      (prop: 'get' | 'range' | 'revision' | 'timeToLive') =>
      (...args: unknown[]) =>
        call(false, () => (memory[prop] as (...a: unknown[]) => Promise<unknown>).apply(memory, args));
    const passWrite =
      (prop: 'put' | 'delete' | 'revoke') =>
      (...args: unknown[]) =>
        call(true, () => (memory[prop] as (...a: unknown[]) => Promise<unknown>).apply(memory, args));
    // Built once per link: a proxy that made a new function on every property read would cost
    // more than the calls themselves.
    const methods: Record<string, unknown> = {
      txn: (req: TxnRequest) =>
        call(true, () => memory.txn(req).then((res) => (variant === 'blind-queue' ? blind(res, req) : res))),
      get: passRead('get'),
      range: passRead('range'),
      revision: passRead('revision'),
      timeToLive: passRead('timeToLive'),
      put: passWrite('put'),
      delete: passWrite('delete'),
      revoke: passWrite('revoke'),
      grant: (ttl: number) =>
        call(true, () =>
          memory.grant(ttl).then((l) => {
            leases.add(l.id);
            return l;
          }),
        ),
      keepAlive: (id: string) => call(true, () => memory.keepAlive(id), 0.1),
      // Events reach the process after a delay of their own, in order, not while it is paused,
      // and not while it is cut off from the store (they arrive once it is back, as a watch
      // stream's would).
      watch: (key: string, opts?: WatchOptions): AsyncIterable<WatchBatch> => ({
        async *[Symbol.asyncIterator]() {
          for await (const batch of memory.watch(key, opts)) {
            do await new Promise<void>((r) => clock.setTimeout(r, delay()));
            while (down(index));
            yield batch;
          }
        },
      }),
    };
    return new Proxy(memory, {
      get(target, prop) {
        if (typeof prop === 'string' && Object.hasOwn(methods, prop)) return methods[prop];
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };

  const emit = (e: Omit<HistoryEvent, 'time'>) => history.add({ ...e, time: sim.now() } as HistoryEvent);
  const stop = new AbortController();
  const clocks: ProcessClock[] = [];
  const scenario = SCENARIOS[recipe];

  // The observer of leases: when the store was due to expire a lease that a process opened,
  // it asks the store (directly, not through a link) whether it did, and records `session.expired`.
  const watched = new Set<LeaseId>();
  const due = new Map<LeaseId, number>();
  memory.onLeaseDue = (id, when) => {
    due.set(id, when);
    sim.setTimeout(
      () => {
        if (due.get(id) !== when || memory.revoked.has(id) || !watched.has(id)) return;
        working++;
        void memory.timeToLive(id).then(
          (ttl) => {
            working--;
            if (ttl !== undefined || memory.revoked.has(id)) return;
            emit({ type: 'invoke', process: 'observer', op: 'session.expired', args: { lease: id } });
            emit({ type: 'ok', process: 'observer', op: 'session.expired' });
          },
          () => working--,
        );
        // Just after the store's own timer for that instant.
      },
      when - sim.now() + 0.5,
    );
  };

  const ctx: SimContext = {
    rnd,
    ttlMs,
    variant,
    stop: stop.signal,
    emit,
    sleep: (clock, ms) => new Promise<void>((r) => clock.setTimeout(r, ms)),
    watchLease: (id) => watched.add(id),
    async step(p, op, args, fn, result) {
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
    },
    observe(p, op, args) {
      emit({ type: 'invoke', process: p, op, args });
      emit({ type: 'ok', process: p, op });
    },
    fence: new Map(),
  };

  const procs: SimProcess[] = [];
  for (let index = 0; index < processes; index++) {
    const name = `p${index}`;
    const ppm = (rnd() * 2 - 1) * maxDriftPpm;
    const clock = new ProcessClock(sim, 1 + ppm / 1e6, Math.floor(rnd() * 1e6));
    schedule.push(`0.0 ${name}: clock rate ${ppm >= 0 ? '+' : ''}${ppm.toFixed(0)} ppm`);
    clocks.push(clock);
    procs.push({ name, index, clock, store: link(clock, index, new Set()) });
  }

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

  const running = Promise.all(procs.map((p) => scenario.run(ctx, p)));
  // Drive: one timer at a time, then let everything it set off settle before the next.
  // Everything a timer sets off runs in microtasks (the memory store's yield is off), and one
  // turn of the event loop drains them all.
  const settle = async () => {
    do {
      await turn();
    } while (working > 0);
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
  // Wind down: let the loops see the abort and close what they hold (timers past the end still
  // fire, outages stop), for at most 20 ttls of simulated time.
  outages.length = 0;
  while (sim.fireNext(durationMs + 20 * ttlMs)) await settle();
  await Promise.race([running, turn()]);
  await memory.close();

  const checked = scenario.check(history, ttlMs);
  return {
    seed,
    recipe,
    variant,
    violations: checked.violations,
    holdings: checked.holdings,
    schedule,
    history,
  };
}
