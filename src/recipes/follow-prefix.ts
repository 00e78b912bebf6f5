/**
 * Following every change under a prefix for as long as a signal lives: the loop behind
 * Membership's live set and ShardManager's view of slot holders.
 */
import type { Clock } from '../clock.js';
import { isTenureError } from '../errors.js';
import { sleep } from '../sleep.js';
import type { Store, WatchBatch } from '../store/types.js';

/** What {@link followPrefix} calls. */
export interface FollowPrefixHandlers {
  /** The revision the follower has applied; watching resumes after it. */
  revision(): number;
  /** Applies one batch (and advances what `revision()` returns). */
  apply(batch: WatchBatch): void;
  /** After TENURE_COMPACTED: re-reads the prefix and replaces the follower's state. */
  resync(): Promise<void>;
  /** Reports a watch or resync error; the loop carries on. */
  onError(err: unknown): void;
}

/**
 * Watches `prefix` from `revision() + 1` until `signal` aborts or the store closes. A compacted
 * watch resyncs and resumes at once; any other failure resumes after a backoff (20 ms doubling to
 * 1 s, reset by the next batch) on `clock`, cut short when `signal` aborts.
 */
export async function followPrefix(
  store: Store,
  prefix: string,
  signal: AbortSignal,
  clock: Clock,
  h: FollowPrefixHandlers,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    try {
      for await (const batch of store.watch(prefix, {
        prefix: true,
        fromRevision: h.revision() + 1,
        signal,
      })) {
        failures = 0;
        h.apply(batch);
      }
    } catch (err) {
      if (signal.aborted || isTenureError(err, 'TENURE_CLOSED')) return;
      h.onError(err);
      try {
        if (isTenureError(err, 'TENURE_COMPACTED')) {
          await h.resync();
          continue;
        }
      } catch (e) {
        h.onError(e);
      }
      await sleep(Math.min(1000, 20 * 2 ** failures++), { clock, signal });
    }
  }
}
