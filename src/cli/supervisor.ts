/**
 * What `tenure lock` and `tenure elect` share as supervisors of CMD: the signals that stop them,
 * the bound on every wait once CMD has ended, the words for a lost lock or leadership, and the
 * NAME check.
 */
import { constants } from 'node:os';
import { isTenureError } from '../errors.js';
import { checkName } from '../recipes/names.js';
import { sleep } from '../sleep.js';
import { UsageError, oneLine } from './usage-error.js';

/** Longest wait for the session's revoke and for the store to close, on the way out. */
export const CLOSE_WAIT_MS = 2000;

/**
 * The signals that stop a supervisor: CMD's group is stopped, the lock released or leadership
 * resigned, and tenure exits. SIGHUP (the terminal went away) and SIGQUIT (Ctrl-\) are handled
 * like SIGTERM instead of killing tenure at once, which would leave CMD running under a lock
 * that expires.
 */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** The exit status of a process ended by `signal`, as a shell reports it: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * The signal CMD's group gets for a stop signal tenure received: SIGINT stays SIGINT (CMD is not
 * in the terminal's foreground group, so a Ctrl-C reaches it only this way, and exactly once);
 * SIGTERM, SIGHUP and SIGQUIT become SIGTERM, the one request to stop that every program honours
 * (a daemon may take SIGHUP as "reload").
 */
export function forwardedSignal(received: NodeJS.Signals): NodeJS.Signals {
  return received === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}

/**
 * Catches the {@link STOP_SIGNALS} while a supervisor runs, and passes SIGWINCH on to CMD (which
 * has no controlling terminal to tell it the window changed).
 */
export class StopSignals {
  readonly #ac = new AbortController();
  /** Aborts at the first stop signal. */
  readonly signal: AbortSignal = this.#ac.signal;
  #received: NodeJS.Signals | undefined;
  readonly #next = new Set<AbortController>();
  readonly #each: (signal: NodeJS.Signals) => void;
  readonly #winch: () => void;
  readonly #onStop = (signal: NodeJS.Signals) => {
    this.#received ??= signal;
    for (const ac of this.#next) ac.abort(new Error(`received ${signal}`));
    this.#next.clear();
    this.#ac.abort(new Error(`received ${signal}`));
    this.#each(signal);
  };

  /**
   * @param each called for every stop signal received (the first one included)
   * @param winch called on SIGWINCH
   */
  constructor(each: (signal: NodeJS.Signals) => void, winch: () => void) {
    this.#each = each;
    this.#winch = winch;
    for (const s of STOP_SIGNALS) process.on(s, this.#onStop);
    process.on('SIGWINCH', this.#winch);
  }

  /** The first stop signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.#received;
  }

  /** A signal that aborts at the next stop signal received from now on. */
  next(): AbortSignal {
    const ac = new AbortController();
    this.#next.add(ac);
    return ac.signal;
  }

  /** Stops listening (Node's defaults apply again). */
  close(): void {
    for (const s of STOP_SIGNALS) process.off(s, this.#onStop);
    process.off('SIGWINCH', this.#winch);
  }
}

/**
 * Waits for `promise`, but at most `ms` and not past an abort of `signal`: every wait after CMD
 * has ended (unlock, resign, closing the session and the store) goes through this, so tenure
 * always exits. Resolves true if `promise` settled in time.
 */
export async function settledWithin(
  promise: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<boolean> {
  let settled = false;
  const done = promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  const ac = new AbortController();
  await Promise.race([
    done,
    sleep(ms, { signal: signal ? AbortSignal.any([signal, ac.signal]) : ac.signal }),
  ]);
  ac.abort();
  return settled;
}

/**
 * Resolves with what `promise` resolves to, or with undefined as soon as `signal` aborts, so that
 * a stop signal is never held up by a slow store (opening an unreachable etcd waits up to 5 s).
 * The promise is then left to itself: tenure is on its way out. Rejections pass through.
 */
export function unlessStopped<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      resolve(undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** The library's option names in a session error, and the flags a CLI user sets instead. */
const FLAGS: readonly [RegExp, string][] = [[/\boptions\.ttlMs\b/g, '--ttl']];

/**
 * A TENURE_INVALID_ARGUMENT from starting the session, as the user's mistake in the user's words
 * (`--ttl must be at least 10 ms…`, not `options.ttlMs …`); anything else unchanged.
 */
export function inFlagTerms(err: unknown): unknown {
  if (!isTenureError(err, 'TENURE_INVALID_ARGUMENT')) return err;
  return new UsageError(FLAGS.reduce((m, [library, flag]) => m.replace(library, flag), err.message));
}

/**
 * Why a lock or leadership was lost, from its signal's reason: its session's lease expired (no
 * heartbeat acknowledged within the ttl, or the store dropped the lease), or its key was deleted
 * while the session lived (an operator, a script, another client).
 */
export function lossCause(reason: unknown, sessionAlive: boolean): string {
  // Status reports a loss by deadline before the timer that aborts the signal (and sets a reason) runs.
  if (reason === undefined) return "its session's deadline passed (the process was paused past its lease)";
  if (isTenureError(reason, 'TENURE_SESSION_EXPIRED'))
    return `its session's lease expired (${oneLine(reason)})`;
  if (isTenureError(reason, 'TENURE_LOCK_LOST')) {
    const what = oneLine(reason).replace(/^.* lost: /, '');
    return sessionAlive
      ? `${what}, by another client: its session was still alive`
      : `its session's lease expired and ${what}`;
  }
  return oneLine(reason);
}

/**
 * Checks a lock or election NAME given on the command line, saying why a `/` is refused.
 * @throws UsageError
 */
export function checkCliName(name: string): void {
  if (name.includes('/'))
    throw new UsageError(
      `NAME must be one segment of a store key, and "/" separates the segments of store keys: the keys of ${JSON.stringify(name)} would fall inside those of ${JSON.stringify(name.slice(0, name.indexOf('/')))}. Use ":" or "." instead, e.g. ${JSON.stringify(name.replaceAll('/', ':'))}`,
    );
  checkName(name, 'NAME');
}
