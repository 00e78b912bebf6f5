/**
 * Graceful shutdown, opt-in: on SIGTERM or SIGINT, close what the process holds (sessions,
 * leaderships, locks) before it exits, so that a planned restart hands over at once instead of
 * after a ttl. Closing a session revokes its lease, which releases everything held under it in
 * one store revision.
 */
import { clockOption, type Clock } from '../../clock.js';
import { invalidArgument } from '../../errors.js';

/**
 * Anything held that ends with `close()`: a Session, Leadership, Lock, Member, ShardManager,
 * Membership view, HeartbeatMesh or ShardRouter. (Objects with only the deprecated `resign()` or
 * `unlock()` are still accepted for one release.)
 */
export type Closable =
  | {
      /** Releases what the object holds; {@link closeOnSignals} awaits it and ignores a rejection. */
      close(): Promise<void>;
    }
  | {
      /** @deprecated The old name of `close()` on a Leadership; {@link closeOnSignals} calls it when there is no `close()`. */
      resign(): Promise<void>;
    }
  | {
      /** @deprecated The old name of `close()` on a Lock; {@link closeOnSignals} calls it when there is no `close()`. */
      unlock(): Promise<void>;
    };

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /** Signals to handle. @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /**
   * Longest wait for the closes before exiting anyway (the leases then expire by ttl).
   * @default 5000 — below the usual 10 s grace period of process supervisors.
   */
  timeoutMs?: number;
  /**
   * The clock `timeoutMs` is counted on (a session's `clock`, to drive it in a test).
   * @default systemClock
   */
  clock?: Clock;
}

function closeOne(c: Closable): Promise<void> {
  if ('close' in c) return c.close();
  if ('resign' in c) return c.resign();
  return c.unlock();
}

/**
 * On the first of `signals`, closes `closables` in order (leaderships and locks before the
 * sessions they live in), then re-raises the signal so the process exits as it would have.
 * Returns a function that removes the handlers.
 *
 * @example
 * ```ts
 * closeOnSignals([leadership, session]);
 * ```
 */
export function closeOnSignals(
  closables: readonly Closable[],
  options: CloseOnSignalsOptions = {},
): () => void {
  if (!Array.isArray(closables)) throw invalidArgument('closables', 'must be an array');
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0)
    throw invalidArgument('options.timeoutMs', 'must be a number ≥ 0');
  const clock = clockOption(options.clock);
  const handler = (signal: NodeJS.Signals) => {
    remove();
    const closing = (async () => {
      for (const c of closables) await closeOne(c).catch(() => undefined);
    })();
    const timeout = new Promise((resolve) => clock.setTimeout(() => resolve(undefined), timeoutMs).unref());
    void Promise.race([closing, timeout]).then(() => process.kill(process.pid, signal));
  };
  const remove = () => {
    for (const s of signals) process.off(s, handler);
  };
  for (const s of signals) process.once(s, handler);
  return remove;
}
