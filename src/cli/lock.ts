/**
 * `tenure lock NAME -- CMD ARGS…`: runs CMD while holding a fenced lock.
 *
 * CMD gets the lock's fencing token as TENURE_FENCING_TOKEN (pass it with every write to what
 * the lock protects). CMD runs as a process group of its own (see {@link Command}): every signal
 * goes to the whole group, the lock is released only once no process of the group is left, and
 * the group dies with tenure, even if tenure is SIGKILLed.
 *
 * - CMD ends by itself: what it left running in its group gets SIGTERM (SIGKILL after `--grace`),
 *   then the lock is released, and tenure exits with CMD's code.
 * - The lock is lost (its session's lease expired, or someone deleted its key): the group gets
 *   SIGTERM, then SIGKILL after `--grace`, and tenure exits {@link EXIT_LOCK_LOST} (4) with a
 *   message naming the cause, whatever CMD's own code was.
 * - SIGINT is passed on to the group (once: CMD is not in the terminal's foreground group);
 *   SIGTERM, SIGHUP and SIGQUIT stop the group with SIGTERM; SIGKILL follows after `--grace`. The
 *   lock is released once the group has ended, and tenure exits with CMD's code.
 * - A signal while waiting for the lock: tenure exits 128 + the signal's number (SIGINT 130,
 *   SIGTERM 143, SIGHUP 129, SIGQUIT 131), leaving no waiter key behind.
 * - Every wait after CMD has ended is bounded: the store must confirm the unlock within `--ttl`
 *   (or before another stop signal), else tenure says so and exits anyway; the lock's key then
 *   goes with the session's lease, within `--ttl`.
 */
import { isTenureError } from '../errors.js';
import type { Lock } from '../recipes/coordination/lock.js';
import { Mutex } from '../recipes/coordination/mutex.js';
import { Session } from '../recipes/coordination/session.js';
import { Command } from './command.js';
import { checkLayoutName, layoutNamespace, type Layout } from './layout.js';
import { openCliStore } from './store-url.js';
import {
  CLOSE_WAIT_MS,
  StopSignals,
  forwardedSignal,
  inFlagTerms,
  lossCause,
  settledWithin,
  signalExitCode,
  unlessStopped,
} from './supervisor.js';
import { EXIT_LOCK_LOST, EXIT_NOT_ACQUIRED, UsageError, oneLine } from './usage-error.js';
import { escapeControlCharacters } from './terminal-text.js';
import { codeOf, statusLine, type StatusLine } from './status-line.js';

/** Options of {@link runLock}. */
export interface LockCommandOptions {
  store: string;
  /** Longest wait for the lock, in ms. @default no limit */
  timeoutMs?: number;
  /** Fail at once (exit 3) if the lock is held; not with `timeoutMs`. @default false (wait) */
  noWait?: boolean;
  /**
   * Session ttl: how long a crashed tenure keeps the lock; also the longest wait for the store to
   * confirm the unlock after CMD has ended. @default 10000
   */
  ttlMs: number;
  /** Time between SIGTERM and SIGKILL when CMD's group must stop. @default 10000 */
  graceMs: number;
  /** Status lines on stderr as JSON objects, one per line (see docs/cli.md). @default false */
  json?: boolean;
  /**
   * Whose key layout: `etcd` shares the lock with `etcdctl lock NAME` and Go's
   * `concurrency.Mutex`, and opens the store at the root unless its URL names a namespace.
   * @default 'tenure'
   */
  layout?: Layout;
}

/** Runs the lock command; resolves with the exit code, the last `--json` event. */
export async function runLock(name: string, argv: readonly string[], o: LockCommandOptions): Promise<number> {
  const say = statusLine(o.json === true);
  const code = await lockCommand(name, argv, o, say);
  say({ event: 'exit', lock: name, code });
  return code;
}

async function lockCommand(
  name: string,
  argv: readonly string[],
  o: LockCommandOptions,
  say: StatusLine,
): Promise<number> {
  const layout = o.layout ?? 'tenure';
  checkLayoutName(name, layout);
  if (argv.length === 0) throw new UsageError('missing CMD after --: tenure lock NAME -- CMD ARGS…');
  if (o.noWait && o.timeoutMs !== undefined)
    throw new UsageError('--no-wait and --timeout cannot be used together: --no-wait gives up at once');
  let command: Command | undefined;
  let commandEnded = false;
  const stops = new StopSignals(
    (signal) => {
      if (command && !commandEnded) void command.stop(forwardedSignal(signal));
    },
    () => command?.signal('SIGWINCH'),
  );
  try {
    // A stop signal while the store opens or the session starts: exit at once, holding nothing.
    const store = await unlessStopped(
      openCliStore(o.store, { exclusive: true, defaultNamespace: layoutNamespace(layout) }),
      stops.signal,
    );
    if (store === undefined) return signalExitCode(stops.received!);
    let session: Session;
    try {
      session = await Session.create(store, { ttlMs: o.ttlMs, signal: stops.signal });
    } catch (err) {
      await settledWithin(store.close(), CLOSE_WAIT_MS);
      if (stops.received) return signalExitCode(stops.received);
      throw inFlagTerms(err);
    }
    const finish = async (code: number): Promise<number> => {
      const hurry = stops.next();
      await settledWithin(session.close(), CLOSE_WAIT_MS, hurry);
      await settledWithin(store.close(), CLOSE_WAIT_MS, hurry);
      return code;
    };
    const lock = await acquire(name, o, session, stops, say);
    if (typeof lock === 'number') return await finish(lock);

    try {
      lock.throwIfLost();
    } catch (err) {
      const cause = lossCause(err, session.alive);
      say(
        {
          event: 'lost',
          lock: name,
          fencingToken: lock.fencingToken,
          cause,
          causeCode: codeOf(err),
          cmd: 'not started',
        },
        `lock ${name} lost before CMD started: ${cause}`,
      );
      return await finish(EXIT_LOCK_LOST);
    }
    say({ event: 'acquired', lock: name, fencingToken: lock.fencingToken });
    const started = Command.start(argv, {
      env: { TENURE_FENCING_TOKEN: String(lock.fencingToken), TENURE_LOCK: name },
      graceMs: o.graceMs,
    });
    command = started;
    let lost: string | undefined;
    const onLost = () => {
      if (lock.status !== 'lost' || commandEnded) return;
      lost = lossCause(lock.signal.reason, session.alive);
      say(
        {
          event: 'lost',
          lock: name,
          fencingToken: lock.fencingToken,
          cause: lost,
          causeCode: codeOf(lock.signal.reason),
          cmd: 'stopping',
        },
        `lock ${name} lost: ${lost}; stopping CMD (SIGTERM to its process group, SIGKILL after ${o.graceMs} ms)`,
      );
      void started.stop('SIGTERM');
    };
    lock.signal.addEventListener('abort', onLost, { once: true });
    const exit = await started.ended;
    commandEnded = true;
    lock.signal.removeEventListener('abort', onLost);
    say({ event: 'cmd-exited', lock: name, code: exit.code, signal: exit.signal });
    if (lost === undefined && lock.status === 'lost') {
      lost = lossCause(lock.signal.reason, session.alive);
      say({
        event: 'lost',
        lock: name,
        fencingToken: lock.fencingToken,
        cause: lost,
        causeCode: codeOf(lock.signal.reason),
        cmd: 'exited',
      });
    }
    if (lost !== undefined) {
      say(
        { event: 'lost-while-running', lock: name, cmdCode: exit.code },
        `lock ${name} was lost while CMD ran (CMD exited with ${exit.code}); exit ${EXIT_LOCK_LOST}`,
      );
      return await finish(EXIT_LOCK_LOST);
    }
    await release(lock, name, o.ttlMs, stops, say);
    return await finish(exit.code);
  } finally {
    stops.close();
  }
}

/** Takes the lock; resolves with it, or with the exit code when it was not taken. */
async function acquire(
  name: string,
  o: LockCommandOptions,
  session: Session,
  stops: StopSignals,
  say: StatusLine,
): Promise<Lock | number> {
  const mutex = new Mutex(session, name, { layout: o.layout });
  let lock: Lock | undefined;
  try {
    if (stops.received) return signalExitCode(stops.received);
    lock = o.noWait
      ? await mutex.tryLock()
      : await mutex.lock({ timeoutMs: o.timeoutMs, signal: stops.signal });
  } catch (err) {
    if (stops.received) return signalExitCode(stops.received);
    if (isTenureError(err, 'TENURE_TIMEOUT'))
      say(
        { event: 'not-acquired', lock: name, reason: 'timeout', timeoutMs: o.timeoutMs },
        `lock ${name} not acquired within ${o.timeoutMs} ms (--timeout)`,
      );
    else
      say(
        { event: 'not-acquired', lock: name, reason: 'error', errorCode: codeOf(err), message: oneLine(err) },
        `lock ${name} not acquired: ${oneLine(err)}`,
      );
    return EXIT_NOT_ACQUIRED;
  }
  if (lock === undefined) {
    const held = await holder(mutex);
    say(
      { event: 'not-acquired', lock: name, reason: 'held', holder: held ?? null },
      `lock ${name} is held by ${held === undefined ? 'another process (it has just let go: try again)' : `${escapeControlCharacters(held.owner)} (fencing token ${held.fencingToken})`} (--no-wait)`,
    );
    return EXIT_NOT_ACQUIRED;
  }
  if (stops.received) {
    await release(lock, name, o.ttlMs, stops, say);
    return signalExitCode(stops.received);
  }
  return lock;
}

/** Who holds the mutex now, for the --no-wait message; undefined when it has just let go. */
async function holder(mutex: Mutex): Promise<{ owner: string; fencingToken: number } | undefined> {
  const first = (await mutex.queue().catch(() => []))[0];
  if (first === undefined) return undefined;
  // etcd's clients (and tenure's etcd layout) leave the value empty: the key names the lease.
  return { owner: first.owner || `the session of key ${first.key}`, fencingToken: first.token };
}

/** Unlocks, waiting for the store's confirmation at most `ttlMs` or until the next stop signal. */
async function release(
  lock: Lock,
  name: string,
  ttlMs: number,
  stops: StopSignals,
  say: StatusLine,
): Promise<void> {
  const hurry = stops.next();
  if ((await settledWithin(lock.close(), ttlMs, hurry)) && lock.status !== 'releasing') {
    say({ event: 'released', lock: name, fencingToken: lock.fencingToken });
    return;
  }
  const why = hurry.aborted ? `(${oneLine(hurry.reason)} while waiting)` : `within ${ttlMs} ms (--ttl)`;
  say(
    { event: 'release-unconfirmed', lock: name, fencingToken: lock.fencingToken, reason: why },
    `could not confirm the release of lock ${name} ${why}; exiting: the store deletes the lock's key when the session's lease expires, within --ttl`,
  );
}
