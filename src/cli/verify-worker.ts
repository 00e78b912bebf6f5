/**
 * One client process of `tenure verify`: three loops over one store, each recording what it did
 * as history events, one JSON line each, written to its file as they happen (a SIGKILL loses
 * only the reply of the call in flight):
 * - `<id>/lock`: takes the Mutex `lock`, writes twice to a fenced register in the store (refused
 *   when it holds a higher token), releases; stops writing as soon as `throwIfLost()` says lost;
 * - `<id>/election`: campaigns in the Election `election`, leads a little, resigns;
 * - `<id>/register`: the register workload (get, put, compare-and-set, delete) through a
 *   RecordingStore, on keys `register/0..2`.
 *
 * Started by src/cli/verify.ts with one argument: the JSON of a {@link WorkerConfig}. Prints
 * `ready` once its session is open, `holding` each time it takes the lock (the partition nemesis
 * cuts a client off then), and `done` after SIGTERM's orderly end.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { isTenureError } from '../errors.js';
import { Election, Mutex, Session } from '../recipes/index.js';
import { openStore, withNamespace, type Store } from '../store/index.js';
import {
  History,
  RecordingStore,
  breakStore,
  monotonicNow,
  runRegisterWorkload,
  type Breakage,
  type HistoryEvent,
} from '../verify/index.js';

/** What a worker is told by the orchestrator. */
export interface WorkerConfig {
  readonly url: string;
  readonly namespace: string;
  readonly id: string;
  readonly ttlMs: number;
  readonly out: string;
  readonly seed: number;
  /** A store breakage for the register, or `unchecked-lock` (see verify.ts's `Injection`). */
  readonly inject?: Breakage | 'unchecked-lock';
}

/** Width of the fenced register's tokens: value compares are on text, so pad to compare numbers. */
const TOKEN_DIGITS = 16;
const FENCE_KEY = 'fence/lock';

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const fd = openSync(config.out, 'a');
const history = new History();
const emit = (event: HistoryEvent) => {
  history.add(event);
  writeSync(fd, JSON.stringify(event) + '\n');
};
const stopping = new AbortController();
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    stopping.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Records one operation of `process` around `call`. */
async function step<T>(
  process: string,
  op: string,
  args: Record<string, unknown>,
  call: () => Promise<T>,
  result: (v: T) => unknown = () => undefined,
): Promise<T> {
  emit({ type: 'invoke', process, op, args, time: monotonicNow() });
  try {
    const v = await call();
    const r = result(v);
    emit({ type: 'ok', process, op, ...(r === undefined ? {} : { result: r }), time: monotonicNow() });
    return v;
  } catch (err) {
    // A refusal that certainly took nothing (aborted or timed out waiting, a lost lock) is a
    // fail; anything else may have happened.
    const certain =
      isTenureError(err) &&
      [
        'TENURE_ABORTED',
        'TENURE_TIMEOUT',
        'TENURE_LOCK_LOST',
        'TENURE_NOT_LEADER',
        'TENURE_SESSION_EXPIRED',
      ].includes(err.code);
    emit({
      type: certain ? 'fail' : 'info',
      process,
      op,
      result: { error: isTenureError(err) ? err.code : String(err) },
      time: monotonicNow(),
    });
    throw err;
  }
}

/** A point event: something the process saw at one instant. */
function observe(process: string, op: string, args: Record<string, unknown>): void {
  const time = monotonicNow();
  emit({ type: 'invoke', process, op, args, time });
  emit({ type: 'ok', process, op, time });
}

/** A session that is alive, made again after one expired (a pause past the ttl ends it). */
class Sessions {
  #session: Session | undefined;
  constructor(readonly store: Store) {}
  async get(): Promise<Session> {
    if (this.#session?.alive) return this.#session;
    await this.#session?.close().catch(() => undefined);
    this.#session = await Session.create(this.store, { ttlMs: config.ttlMs });
    return this.#session;
  }
  async close(): Promise<void> {
    await this.#session?.close().catch(() => undefined);
  }
}

async function lockLoop(sessions: Sessions, store: Store): Promise<void> {
  const p = `${config.id}/lock`;
  const name = 'lock';
  while (!stopping.signal.aborted) {
    try {
      const session = await sessions.get();
      const mutex = new Mutex(session, name);
      const lock = await step(
        p,
        'lock.acquire',
        { name },
        () => mutex.lock({ signal: stopping.signal }),
        (l) => ({
          token: l.fencingToken,
        }),
      );
      // Tells the orchestrator, which cuts the holder off first (`--faults partition`).
      process.stdout.write('holding\n');
      let lost = false;
      for (let i = 0; i < 2 && !lost; i++) {
        if (config.inject !== 'unchecked-lock')
          try {
            lock.throwIfLost();
            observe(p, 'lock.check', { name });
          } catch {
            observe(p, 'lock.lost', { name });
            lost = true;
            break;
          }
        const token = lock.fencingToken;
        const padded = String(token).padStart(TOKEN_DIGITS, '0');
        await step(
          p,
          'lock.write',
          { name, token },
          () =>
            store.txn({
              compare: [{ key: FENCE_KEY, target: 'value', op: '>', value: padded }],
              failure: [{ type: 'put', key: FENCE_KEY, value: padded }],
            }),
          (r) => ({ accepted: !r.succeeded }),
        );
        await sleep(5 + Math.random() * 15);
      }
      if (!lost) await step(p, 'lock.release', { name }, () => lock.close());
      else await lock.close().catch(() => undefined);
    } catch {
      await sleep(20);
    }
    await sleep(Math.random() * 20);
  }
}

async function electionLoop(sessions: Sessions): Promise<void> {
  const p = `${config.id}/election`;
  const name = 'election';
  while (!stopping.signal.aborted) {
    try {
      const session = await sessions.get();
      const election = new Election(session, name);
      const leadership = await step(
        p,
        'election.campaign',
        { name },
        () => election.campaign(config.id, { signal: stopping.signal }),
        (l) => ({ term: l.term }),
      );
      let lost = false;
      for (let i = 0; i < 3; i++) {
        await sleep(10 + Math.random() * 20);
        try {
          leadership.throwIfLost();
          observe(p, 'election.check', { name });
        } catch {
          observe(p, 'election.lost', { name });
          lost = true;
          break;
        }
      }
      if (!lost) await step(p, 'election.resign', { name }, () => leadership.close());
      else await leadership.close().catch(() => undefined);
    } catch {
      await sleep(20);
    }
    await sleep(Math.random() * 30);
  }
}

async function main(): Promise<void> {
  const root = await openStore(config.url);
  const store = withNamespace(root, config.namespace);
  const sessions = new Sessions(store);
  await sessions.get();
  const breakage = config.inject === 'unchecked-lock' ? undefined : config.inject;
  const registerStore = new RecordingStore(breakage ? breakStore(store, breakage) : store, {
    history,
    process: `${config.id}/register`,
    onEvent: (e) => writeSync(fd, JSON.stringify(e) + '\n'),
  });
  process.on('SIGTERM', () => stopping.abort());
  process.stdout.write('ready\n');
  await Promise.all([
    lockLoop(sessions, store),
    electionLoop(sessions),
    runRegisterWorkload(registerStore, {
      prefix: 'register/',
      keys: 3,
      operations: Number.MAX_SAFE_INTEGER,
      seed: config.seed,
      client: config.id,
      signal: stopping.signal,
      pace: () => sleep(Math.random() * 4),
    }),
  ]);
  await sessions.close();
  await root.close();
  closeSync(fd);
  process.stdout.write('done\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `verify worker ${config.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
