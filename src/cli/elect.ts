/**
 * `tenure elect NAME -- CMD ARGS…`: a singleton supervisor. Of all the `tenure elect NAME`
 * processes, CMD runs only under the leader, with the leader's term as TENURE_TERM (a fencing
 * token: pass it to whatever CMD writes to). When leadership is lost CMD is stopped (SIGTERM, then
 * SIGKILL after `--grace`) and the supervisor campaigns again; if CMD exits while its supervisor
 * leads, it is restarted after a backoff.
 *
 * A supervisor killed with SIGKILL cannot stop its CMD: the CMD then runs on until it ends while
 * another leader starts its own, which is why CMD must fence its writes with TENURE_TERM.
 */
import { isTenureError } from '../errors.js';
import { Election, type Leadership } from '../recipes/election.js';
import { checkName } from '../recipes/names.js';
import { defaultOwner } from '../recipes/owner.js';
import { Session } from '../recipes/session.js';
import type { Store } from '../store/types.js';
import { Command } from './command.js';
import { openCliStore } from './store-url.js';
import { UsageError, oneLine } from './usage-error.js';
import { sleep } from '../sleep.js';

/** Options of {@link runElect}. */
export interface ElectCommandOptions {
  store: string;
  /** Session ttl: how long after a crash of this supervisor another one takes over. */
  ttlMs: number;
  /** Time between SIGTERM and SIGKILL when CMD must stop. */
  graceMs: number;
  /** The value this candidate proclaims (shown by `tenure status`). @default host:pid */
  value?: string;
  /** First restart delay after CMD exits while leading; doubles up to `maxBackoffMs`. */
  backoffMs: number;
  /** Longest restart delay. */
  maxBackoffMs: number;
}

/** A CMD that ran this long without exiting resets the backoff. */
const HEALTHY_RUN_MS = 10_000;

const log = (line: string) => process.stderr.write(`tenure: ${line}\n`);

/** Runs the supervisor until SIGINT/SIGTERM; resolves with the exit code (0). */
export async function runElect(
  name: string,
  argv: readonly string[],
  o: ElectCommandOptions,
): Promise<number> {
  checkName(name, 'NAME');
  if (argv.length === 0) throw new UsageError('missing CMD after --: tenure elect NAME -- CMD ARGS…');
  const store = await openCliStore(o.store, { exclusive: true });
  const stopping = new AbortController();
  let command: Command | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) return;
    log(`${signal}: stopping`);
    stopping.abort(new Error(signal));
    void command?.stop(o.graceMs);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const value = o.value ?? defaultOwner();
  let session: Session | undefined;
  try {
    while (!stopping.signal.aborted) {
      if (session === undefined || session.status !== 'alive')
        session = await newSession(store, o, stopping.signal);
      if (session === undefined) break;
      let leadership: Leadership;
      try {
        leadership = await new Election(session, name).campaign(value, { signal: stopping.signal });
      } catch (err) {
        if (stopping.signal.aborted) break;
        log(`campaign for ${name} failed: ${oneLine(err)}; retrying`);
        await sleep(500, { signal: stopping.signal });
        continue;
      }
      log(`leading ${name} in term ${leadership.term}`);
      await lead(leadership, argv, o, stopping.signal, (c) => (command = c));
      command = undefined;
      if (leadership.status === 'lost' && !stopping.signal.aborted)
        log(
          `lost leadership of ${name} (term ${leadership.term}): ${oneLine(leadership.signal.reason)}; campaigning again`,
        );
      await leadership.resign();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session?.close();
    await store.close();
  }
  return 0;
}

async function newSession(
  store: Store,
  o: ElectCommandOptions,
  signal: AbortSignal,
): Promise<Session | undefined> {
  for (;;) {
    try {
      return await Session.create(store, { ttlMs: o.ttlMs, signal });
    } catch (err) {
      if (signal.aborted) return undefined;
      if (isTenureError(err, 'TENURE_INVALID_ARGUMENT')) throw new UsageError(err.message);
      log(`cannot start a session: ${oneLine(err)}; retrying`);
      await sleep(1000, { signal });
    }
  }
}

/** Runs CMD (restarting it with backoff) until leadership ends or the supervisor stops. */
async function lead(
  leadership: Leadership,
  argv: readonly string[],
  o: ElectCommandOptions,
  stopping: AbortSignal,
  running: (c: Command) => void,
): Promise<void> {
  const ended = AbortSignal.any([leadership.signal, stopping]);
  let backoff = o.backoffMs;
  while (!ended.aborted) {
    const startedAt = performance.now();
    const command = Command.start(argv, {
      TENURE_TERM: String(leadership.term),
      TENURE_ELECTION: leadership.election.name,
    });
    running(command);
    const stop = () => void command.stop(o.graceMs);
    ended.addEventListener('abort', stop, { once: true });
    const exit = await command.exited;
    ended.removeEventListener('abort', stop);
    if (ended.aborted) return;
    if (performance.now() - startedAt > HEALTHY_RUN_MS) backoff = o.backoffMs;
    log(`CMD exited with code ${exit.code} while leading; restarting in ${backoff} ms`);
    await sleep(backoff, { signal: ended });
    backoff = Math.min(o.maxBackoffMs, backoff * 2);
  }
}
