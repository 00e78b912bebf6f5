/**
 * `tenure lock NAME -- CMD ARGS…`: runs CMD while holding a fenced lock.
 *
 * CMD gets the lock's fencing token as TENURE_FENCING_TOKEN (pass it with every write to what
 * the lock protects). If the lock is lost (the session expired, the key was deleted), CMD gets
 * SIGTERM, then SIGKILL after `--grace`. SIGINT or SIGTERM to tenure is forwarded to CMD; once
 * CMD has ended the lock is released. CMD's exit code is tenure's exit code.
 */
import { isTenureError } from '../errors.js';
import { Mutex } from '../recipes/mutex.js';
import { checkName } from '../recipes/names.js';
import { Session } from '../recipes/session.js';
import { Command } from './command.js';
import { openCliStore } from './store-url.js';
import { EXIT_NOT_ACQUIRED, UsageError, oneLine } from './usage-error.js';

/** Options of {@link runLock}. */
export interface LockCommandOptions {
  store: string;
  /** Longest wait for the lock, in ms. @default no limit */
  timeoutMs?: number;
  /** Fail at once (exit 3) if the lock is held. @default false (wait) */
  noWait?: boolean;
  /** Session ttl: how long a crashed tenure keeps the lock. @default 10000 */
  ttlMs: number;
  /** Time between SIGTERM and SIGKILL when CMD must stop. @default 10000 */
  graceMs: number;
}

/** Runs the lock command; resolves with the exit code. */
export async function runLock(name: string, argv: readonly string[], o: LockCommandOptions): Promise<number> {
  checkName(name, 'NAME');
  if (argv.length === 0) throw new UsageError('missing CMD after --: tenure lock NAME -- CMD ARGS…');
  const store = await openCliStore(o.store, { exclusive: true });
  const session = await Session.create(store, { ttlMs: o.ttlMs });
  const mutex = new Mutex(session, name);
  const interrupted = new AbortController();
  let forwarded: NodeJS.Signals | undefined;
  let command: Command | undefined = undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    forwarded = signal;
    if (command) void command.stop(o.graceMs, signal);
    else interrupted.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const finish = async (code: number) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.close();
    await store.close();
    return code;
  };
  let lock;
  try {
    lock = o.noWait
      ? await mutex.tryLock()
      : await mutex.lock({ timeoutMs: o.timeoutMs, signal: interrupted.signal });
  } catch (err) {
    if (isTenureError(err, 'TENURE_TIMEOUT')) {
      process.stderr.write(`tenure: lock ${name} not acquired within ${o.timeoutMs} ms (--timeout)\n`);
      return finish(EXIT_NOT_ACQUIRED);
    }
    if (isTenureError(err, 'TENURE_ABORTED')) return finish(130);
    process.stderr.write(`tenure: lock ${name} not acquired: ${oneLine(err)}\n`);
    return finish(EXIT_NOT_ACQUIRED);
  }
  if (lock === undefined) {
    process.stderr.write(`tenure: lock ${name} is held by another process (--no-wait)\n`);
    return finish(EXIT_NOT_ACQUIRED);
  }
  if (forwarded) {
    await lock.unlock();
    return finish(130);
  }
  command = Command.start(argv, {
    TENURE_FENCING_TOKEN: String(lock.fencingToken),
    TENURE_LOCK: name,
  });
  const held = lock;
  const onLost = () => {
    if (held.status !== 'lost' || command!.ended) return;
    process.stderr.write(
      `tenure: lock ${name} lost (${oneLine(held.signal.reason)}); stopping CMD (SIGTERM, SIGKILL after ${o.graceMs} ms)\n`,
    );
    void command!.stop(o.graceMs);
  };
  held.signal.addEventListener('abort', onLost, { once: true });
  const exit = await command.exited;
  held.signal.removeEventListener('abort', onLost);
  await held.unlock();
  return finish(exit.code);
}
