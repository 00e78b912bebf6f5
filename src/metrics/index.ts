/**
 * Prometheus metrics for tenure, through prom-client, as a hook: `instrument({ registry })`
 * registers the metrics in the application's registry and returns functions that feed them from
 * the outside of the recipes (a session's 'keepalive' event, a wrapped Store, an election's
 * observe(), a leadership's signal, a lock's signal).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * const registry = new Registry();
 * const metrics = instrument({ registry });
 * const store = metrics.store(await openStore(url));
 * const session = metrics.session(await Session.create(store));
 * const election = new Election(session, 'cron');
 * metrics.observeElection(election, { signal });
 * const leadership = metrics.leadership(await election.campaign('host-a'));
 * const lock = await metrics.lock(new Mutex(session, 'invoices'));
 * // GET /metrics → res.end(await registry.metrics())
 * ```
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { invalidArgument, isTenureError } from '../errors.js';
import type { Election, Leadership } from '../recipes/coordination/election.js';
import type { Lock } from '../recipes/coordination/lock.js';
import type { Mutex } from '../recipes/coordination/mutex.js';
import type { WaitOptions } from '../recipes/coordination/queue.js';
import type { Session } from '../recipes/coordination/session.js';
import type { Store } from '../store/types.js';
import { DEFAULT_LABEL_LIMIT, LabelCap } from './label-cap.js';
import { timedStore } from './timed-store.js';

export { timedStore, type StoreTimer } from './timed-store.js';
export { cleanLabel, DEFAULT_LABEL_LIMIT, LabelCap, MAX_LABEL_LENGTH, OVERFLOW_LABEL } from './label-cap.js';

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** The registry to register the metrics in. @default a new Registry */
  registry?: Registry;
  /** Prefix of every metric name. @default 'tenure_' */
  prefix?: string;
  /**
   * Distinct values admitted per name label (`election`, `lock`, `group`); later names are
   * reported as `_other` (see label-cap.ts). Bounds the series a scrape can hold.
   * @default 100 — names are chosen in code and number in the tens.
   */
  maxLabelValues?: number;
}

/** The metrics, and the functions that feed them. */
export interface Instrumentation {
  readonly registry: Registry;
  /** 1 while this process leads the election, else 0. Labels: election. */
  readonly isLeader: Gauge<'election'>;
  /** The term of the current leader as observed (0: no leader). Labels: election. */
  readonly term: Gauge<'election'>;
  /** 1 when the election has a leader, as observed. Labels: election. */
  readonly hasLeader: Gauge<'election'>;
  /** Leader changes observed (a new term after another). Labels: election. */
  readonly failovers: Counter<'election'>;
  /** Seconds from asking for a lock to holding it. Labels: lock. */
  readonly lockWait: Histogram<'lock'>;
  /** Seconds a lock was held. Labels: lock. */
  readonly lockHold: Histogram<'lock'>;
  /** Seconds from sending a session heartbeat to its acknowledgement. */
  readonly keepalive: Histogram<string>;
  /** Seconds per store operation. Labels: op, backend, outcome ('ok' | 'error'). */
  readonly storeOperation: Histogram<'op' | 'backend' | 'outcome'>;
  /** Failed store operations by error code (`TENURE_…`, or `unknown`). Labels: op, backend, code. */
  readonly storeErrors: Counter<'op' | 'backend' | 'code'>;
  /** Slots that changed owner. Labels: group. */
  readonly slotMoves: Counter<'group'>;
  /** The caps of the name labels, for those who feed the metrics from outside (the dashboard). */
  readonly labels: { readonly election: LabelCap; readonly lock: LabelCap; readonly group: LabelCap };

  /** Returns `store` wrapped so that every operation is timed. */
  store(store: Store): Store;
  /** Records the session's heartbeat latency; returns the session. */
  session(session: Session): Session;
  /** Follows an election's leader (term, has-leader, failovers) until `signal` aborts. */
  observeElection(election: Election, options?: { signal?: AbortSignal }): Promise<void>;
  /** Sets is-leader to 1 until the leadership ends; returns it. */
  leadership(leadership: Leadership): Leadership;
  /** Takes the lock, recording wait and (when it ends) hold time. */
  lock(mutex: Mutex, options?: WaitOptions): Promise<Lock>;
  /**
   * Times any acquisition under the label `lock`: a semaphore's permit, a read or write lock.
   * @example metrics.acquire('crawl', () => crawlers.acquire({ timeoutMs: 5000 }))
   */
  acquire(lock: string, take: () => Promise<Lock>): Promise<Lock>;
  /** Records a leader seen by an observer (the dashboard's FleetView feeds this). */
  leaderSeen(election: string, term: number | undefined): void;
  /** Records slot moves of a ShardManager group. */
  slotsMoved(group: string, count: number): void;
}

const SECONDS_FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SECONDS_SLOW = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Registers tenure's metrics in `registry` and returns the functions that feed them. */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  const registry = options.registry ?? new Registry();
  const p = options.prefix ?? 'tenure_';
  const limit = options.maxLabelValues ?? DEFAULT_LABEL_LIMIT;
  const labels = { election: new LabelCap(limit), lock: new LabelCap(limit), group: new LabelCap(limit) };
  const registers = [registry];
  const isLeader = new Gauge({
    name: `${p}is_leader`,
    help: '1 while this process leads the election',
    labelNames: ['election'],
    registers,
  });
  const term = new Gauge({
    name: `${p}election_term`,
    help: "The current leader's term (fencing token), 0 without a leader",
    labelNames: ['election'],
    registers,
  });
  const hasLeader = new Gauge({
    name: `${p}election_has_leader`,
    help: '1 when the election has a leader',
    labelNames: ['election'],
    registers,
  });
  const failovers = new Counter({
    name: `${p}election_failovers_total`,
    help: 'Leader changes from one term to a later one',
    labelNames: ['election'],
    registers,
  });
  const lockWait = new Histogram({
    name: `${p}lock_wait_seconds`,
    help: 'Time from asking for a lock to holding it',
    labelNames: ['lock'],
    buckets: SECONDS_SLOW,
    registers,
  });
  const lockHold = new Histogram({
    name: `${p}lock_hold_seconds`,
    help: 'Time a lock was held',
    labelNames: ['lock'],
    buckets: SECONDS_SLOW,
    registers,
  });
  const keepalive = new Histogram({
    name: `${p}session_keepalive_seconds`,
    help: 'Session heartbeat round-trip time',
    buckets: SECONDS_FAST,
    registers,
  });
  const storeOperation = new Histogram({
    name: `${p}store_operation_seconds`,
    help: 'Store operation latency',
    labelNames: ['op', 'backend', 'outcome'],
    buckets: SECONDS_FAST,
    registers,
  });
  const storeErrors = new Counter({
    name: `${p}store_errors_total`,
    help: 'Failed store operations, by error code',
    labelNames: ['op', 'backend', 'code'],
    registers,
  });
  const slotMoves = new Counter({
    name: `${p}slot_moves_total`,
    help: 'Slots of a ShardManager group that changed owner',
    labelNames: ['group'],
    registers,
  });

  const lastTerm = new Map<string, number | undefined>();
  const acquire = async (name: string, take: () => Promise<Lock>): Promise<Lock> => {
    if (typeof name !== 'string') throw invalidArgument('lock', 'must be a string');
    if (typeof take !== 'function') throw invalidArgument('take', 'must be a function');
    const label = { lock: labels.lock.label(name) };
    const asked = performance.now();
    const lock = await take();
    const held = performance.now();
    lockWait.observe(label, (held - asked) / 1000);
    const signal = lock.signal;
    const done = () => lockHold.observe(label, (performance.now() - held) / 1000);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
    return lock;
  };
  const leaderSeen = (name: string, t: number | undefined) => {
    const election = labels.election.label(name);
    const before = lastTerm.get(election);
    if (before !== undefined && t !== undefined && t !== before) failovers.inc({ election });
    if (t !== undefined) lastTerm.set(election, t);
    else if (!lastTerm.has(election)) lastTerm.set(election, undefined);
    term.set({ election }, t ?? 0);
    hasLeader.set({ election }, t === undefined ? 0 : 1);
  };

  return {
    registry,
    isLeader,
    term,
    hasLeader,
    failovers,
    lockWait,
    lockHold,
    keepalive,
    storeOperation,
    storeErrors,
    slotMoves,
    labels,
    store: (store) =>
      timedStore(store, (op, ms, ok, error) => {
        const backend = store.capabilities.backend;
        storeOperation.observe({ op, backend, outcome: ok ? 'ok' : 'error' }, ms / 1000);
        if (!ok) storeErrors.inc({ op, backend, code: isTenureError(error) ? error.code : 'unknown' });
      }),
    session(session) {
      session.on('keepalive', (ms) => keepalive.observe(ms / 1000));
      return session;
    },
    async observeElection(election, o = {}) {
      try {
        for await (const leader of election.observe({ signal: o.signal }))
          leaderSeen(election.name, leader?.term);
      } catch (err) {
        if (!o.signal?.aborted) throw err;
      }
    },
    leadership(leadership) {
      const label = { election: labels.election.label(leadership.election.name) };
      const signal = leadership.signal;
      if (!signal.aborted) {
        isLeader.set(label, 1);
        signal.addEventListener('abort', () => isLeader.set(label, 0), { once: true });
      }
      return leadership;
    },
    lock(mutex, waitOptions) {
      return acquire(mutex.name, () => mutex.lock(waitOptions));
    },
    acquire,
    leaderSeen,
    slotsMoved(group, count) {
      if (count > 0) slotMoves.inc({ group: labels.group.label(group) }, count);
    },
  };
}
