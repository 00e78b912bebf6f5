/**
 * `tenure elect NAME -- CMD ARGS…`: a singleton supervisor. Of all the `tenure elect NAME`
 * processes, CMD runs only under the leader, with the leader's term as TENURE_TERM (a fencing
 * token: pass it to whatever CMD writes to). CMD runs as a process group of its own (see
 * {@link Command}): signals reach the whole group, leadership is resigned only once no process of
 * the group is left, and the group dies with its supervisor, even a SIGKILLed one.
 *
 * - Leadership lost: CMD's group gets SIGTERM (SIGKILL after `--grace`), and the supervisor
 *   campaigns again.
 * - CMD exits while its supervisor leads: `--restart` decides, in systemd's words.
 *   `on-failure` (the default) restarts it after a non-zero exit or a signal; `always` after any
 *   exit; `never` never. When CMD is not restarted, the supervisor resigns (another candidate
 *   takes over at once) and exits with CMD's code: the job is done here, as a systemd unit whose
 *   service exited stays stopped. Restarts wait `--backoff`, doubling up to `--max-backoff`.
 * - A crash loop does not pin leadership: after `--max-failures` failures within
 *   `--failure-window`, the supervisor resigns and exits {@link EXIT_GAVE_UP} (5), so that a
 *   healthy candidate takes over (and an outer supervisor such as systemd may start this one
 *   again, at the back of the queue).
 * - SIGINT (passed on as SIGINT), SIGTERM, SIGHUP, SIGQUIT (passed on as SIGTERM): CMD's group is
 *   stopped, leadership resigned, and tenure exits 0. Every wait on the way out is bounded.
 */
import { isTenureError } from '../errors.js';
import { Election, type Leadership } from '../recipes/coordination/election.js';
import { defaultOwner } from '../recipes/owner.js';
import { Session } from '../recipes/coordination/session.js';
import type { Store } from '../store/types.js';
import { sleep } from '../sleep.js';
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
  unlessStopped,
} from './supervisor.js';
import { EXIT_GAVE_UP, UsageError, oneLine } from './usage-error.js';
import { codeOf, statusLine, type StatusLine } from './status-line.js';

/** When CMD is restarted after it exits while its supervisor leads (systemd's `Restart=`). */
export type RestartPolicy = 'on-failure' | 'always' | 'never';

/** The accepted values of `--restart`. */
export const RESTART_POLICIES: readonly RestartPolicy[] = Object.freeze(['on-failure', 'always', 'never']);

/** Options of {@link runElect}. */
export interface ElectCommandOptions {
  store: string;
  /** Session ttl: how long after a crash of this supervisor another one takes over. */
  ttlMs: number;
  /** Time between SIGTERM and SIGKILL when CMD's group must stop. */
  graceMs: number;
  /** The value this candidate proclaims (shown by `tenure status`). @default host:pid */
  value?: string;
  /** First restart delay after CMD exits while leading; doubles up to `maxBackoffMs`. */
  backoffMs: number;
  /** Longest restart delay. */
  maxBackoffMs: number;
  /**
   * Which exits of CMD are followed by a restart; when CMD is not restarted, the supervisor
   * resigns and exits with CMD's code.
   * @default 'on-failure' — a clean exit means the job is done; a failure is worth another try
   */
  restart: RestartPolicy;
  /**
   * After this many failures (non-zero exit or signal) within `failureWindowMs`, the supervisor
   * resigns and exits 5 so that another candidate takes over.
   * @default 5
   */
  maxFailures: number;
  /** The window in which `maxFailures` failures give leadership up. @default 60000 */
  failureWindowMs: number;
  /** Status lines on stderr as JSON objects, one per line (see docs/cli.md). @default false */
  json?: boolean;
  /**
   * Whose key layout: `etcd` campaigns alongside `etcdctl elect NAME` and Go's
   * `concurrency.Election`, and opens the store at the root unless its URL names a namespace.
   * @default 'tenure'
   */
  layout?: Layout;
}

/** A CMD that ran this long without exiting resets the backoff. */
const HEALTHY_RUN_MS = 10_000;

/** How a term of leadership ended for the supervisor. */
type Outcome = { kind: 'ended' } | { kind: 'exit'; code: number };

/**
 * Runs the supervisor until a stop signal (exit 0), until CMD is not restarted (exit with CMD's
 * code), or until CMD failed too often (exit 5); resolves with the exit code.
 */
export async function runElect(
  name: string,
  argv: readonly string[],
  o: ElectCommandOptions,
): Promise<number> {
  const say = statusLine(o.json === true);
  const code = await electCommand(name, argv, o, say);
  say({ event: 'exit', election: name, code });
  return code;
}

async function electCommand(
  name: string,
  argv: readonly string[],
  o: ElectCommandOptions,
  say: StatusLine,
): Promise<number> {
  const layout = o.layout ?? 'tenure';
  checkLayoutName(name, layout);
  if (argv.length === 0) throw new UsageError('missing CMD after --: tenure elect NAME -- CMD ARGS…');
  if (!RESTART_POLICIES.includes(o.restart))
    throw new UsageError(`--restart must be one of ${RESTART_POLICIES.join(', ')}, got ${o.restart}`);
  let command: Command | undefined;
  const stops = new StopSignals(
    (signal) => {
      say({ event: 'stopping', election: name, signal }, `${signal}: stopping`);
      void command?.stop(forwardedSignal(signal));
    },
    () => command?.signal('SIGWINCH'),
  );
  try {
    const store = await unlessStopped(
      openCliStore(o.store, { exclusive: true, defaultNamespace: layoutNamespace(layout) }),
      stops.signal,
    );
    if (store === undefined) return 0;
    const value = o.value ?? defaultOwner();
    let session: Session | undefined;
    let code = 0;
    try {
      while (!stops.signal.aborted) {
        if (session === undefined || session.status !== 'alive')
          session = await newSession(store, o, stops.signal, say);
        if (session === undefined) break;
        let leadership: Leadership;
        try {
          leadership = await new Election(session, name, { layout }).campaign(value, {
            signal: stops.signal,
          });
        } catch (err) {
          if (stops.signal.aborted) break;
          say(
            { event: 'campaign-failed', election: name, errorCode: codeOf(err), message: oneLine(err) },
            `campaign for ${name} failed: ${oneLine(err)}; retrying`,
          );
          await sleep(500, { signal: stops.signal });
          continue;
        }
        say(
          { event: 'leading', election: name, term: leadership.term },
          `leading ${name} in term ${leadership.term}`,
        );
        const outcome = await lead(leadership, argv, o, stops.signal, (c) => (command = c), say);
        command = undefined;
        if (leadership.status === 'lost' && !stops.signal.aborted) {
          const cause = lossCause(leadership.signal.reason, session.alive);
          say(
            {
              event: 'lost',
              election: name,
              term: leadership.term,
              cause,
              causeCode: codeOf(leadership.signal.reason),
              next: 'campaigning again',
            },
            `lost leadership of ${name} (term ${leadership.term}): ${cause}; campaigning again`,
          );
        }
        const hurry = stops.next();
        if (!(await settledWithin(leadership.close(), o.ttlMs, hurry)) || leadership.status === 'releasing') {
          const why = hurry.aborted
            ? `(${oneLine(hurry.reason)} while waiting)`
            : `within ${o.ttlMs} ms (--ttl)`;
          say(
            { event: 'resign-unconfirmed', election: name, term: leadership.term, reason: why },
            `could not confirm the resignation from ${name} ${why}; ending the session, whose lease's expiry ends the leadership`,
          );
          await settledWithin(session.close(), CLOSE_WAIT_MS, hurry);
        } else if (leadership.status === 'released')
          say({ event: 'resigned', election: name, term: leadership.term });
        if (outcome.kind === 'exit') {
          code = outcome.code;
          break;
        }
      }
    } finally {
      const hurry = stops.next();
      if (session) await settledWithin(session.close(), CLOSE_WAIT_MS, hurry);
      await settledWithin(store.close(), CLOSE_WAIT_MS, hurry);
    }
    return code;
  } finally {
    stops.close();
  }
}

async function newSession(
  store: Store,
  o: ElectCommandOptions,
  signal: AbortSignal,
  say: StatusLine,
): Promise<Session | undefined> {
  for (;;) {
    try {
      return await Session.create(store, { ttlMs: o.ttlMs, signal });
    } catch (err) {
      if (signal.aborted) return undefined;
      if (isTenureError(err, 'TENURE_INVALID_ARGUMENT')) throw inFlagTerms(err);
      say(
        { event: 'session-failed', errorCode: codeOf(err), message: oneLine(err) },
        `cannot start a session: ${oneLine(err)}; retrying`,
      );
      await sleep(1000, { signal });
    }
  }
}

/**
 * Runs CMD, restarting it as `--restart` says, until leadership ends, the supervisor stops, CMD
 * is not to be restarted, or CMD failed too often. A stop signal reaches CMD through the
 * supervisor's signal handler; a lost leadership stops it here.
 */
async function lead(
  leadership: Leadership,
  argv: readonly string[],
  o: ElectCommandOptions,
  stopping: AbortSignal,
  running: (c: Command) => void,
  say: StatusLine,
): Promise<Outcome> {
  const name = leadership.election.name;
  const ended = AbortSignal.any([leadership.signal, stopping]);
  let backoff = o.backoffMs;
  const failures: number[] = [];
  for (;;) {
    if (ended.aborted || leadership.status !== 'held') return { kind: 'ended' };
    const startedAt = performance.now();
    const command = Command.start(argv, {
      env: { TENURE_TERM: String(leadership.term), TENURE_ELECTION: name },
      graceMs: o.graceMs,
    });
    running(command);
    const onLost = () => void command.stop('SIGTERM');
    leadership.signal.addEventListener('abort', onLost, { once: true });
    const exit = await command.ended;
    leadership.signal.removeEventListener('abort', onLost);
    say({ event: 'cmd-exited', election: name, term: leadership.term, code: exit.code, signal: exit.signal });
    if (ended.aborted) return { kind: 'ended' };
    const now = performance.now();
    const failed = exit.code !== 0;
    if (o.restart === 'never' || (o.restart === 'on-failure' && !failed)) {
      say(
        {
          event: 'not-restarted',
          election: name,
          term: leadership.term,
          code: exit.code,
          restart: o.restart,
        },
        `CMD exited with code ${exit.code} while leading ${name}; not restarted (--restart ${o.restart}): resigning and exiting`,
      );
      return { kind: 'exit', code: exit.code };
    }
    if (failed) {
      failures.push(now);
      while (now - failures[0]! > o.failureWindowMs) failures.shift();
      if (failures.length >= o.maxFailures) {
        say(
          {
            event: 'gave-up',
            election: name,
            term: leadership.term,
            failures: failures.length,
            failureWindowMs: o.failureWindowMs,
          },
          `CMD failed ${failures.length} times within ${o.failureWindowMs} ms (--max-failures, --failure-window): giving up leadership of ${name} so that another candidate takes over; exit ${EXIT_GAVE_UP}`,
        );
        return { kind: 'exit', code: EXIT_GAVE_UP };
      }
    }
    if (now - startedAt > HEALTHY_RUN_MS) backoff = o.backoffMs;
    say(
      { event: 'restarting', election: name, term: leadership.term, code: exit.code, backoffMs: backoff },
      `CMD exited with code ${exit.code} while leading; restarting in ${backoff} ms`,
    );
    await sleep(backoff, { signal: ended });
    backoff = Math.min(o.maxBackoffMs, backoff * 2);
  }
}
