/**
 * {@link Store.follow} on any store: the store's own where it has one, otherwise its watch
 * iterated into the listener (what every backend without a cheaper way does).
 */
import { TenureError } from '../errors.js';
import type { FollowOptions, Key, Store, WatchBatch, WatchListener } from './types.js';

/** The reason a follow's own watch is aborted with: nobody sees it, so one object serves all. */
const ENDED = new TenureError('TENURE_CLOSED', 'the follow was ended by its caller');

/**
 * Follows `key` on `store` (see {@link Store.follow}); returns the idempotent function that ends it.
 * @throws what `store.follow` or `store.watch` throws for bad arguments or a closed store.
 */
export function followOn(
  store: Store,
  key: Key,
  options: FollowOptions,
  listener: WatchListener,
): () => void {
  if (store.follow === undefined)
    return followWatch((signal) => store.watch(key, { ...options, signal }), listener);
  const stop = store.follow(key, options, listener) as unknown;
  if (typeof stop === 'function') return stop as () => void;
  return brokenFollow(stop, listener);
}

/**
 * A follow whose store returned no stop function: a wrapper that made every method async (a
 * proxy, an instrumented store) returns a promise, and a rejected one is how such a wrapper says
 * the store is unreachable. Its outcome ends the follow through `listener.error`, as a watch's
 * failure would, unless the caller stopped it first; nothing is left unhandled.
 */
function brokenFollow(returned: unknown, listener: WatchListener): () => void {
  let stopped = false;
  const end = (err: unknown) => {
    if (!stopped) listener.error(err);
    stopped = true;
  };
  const broken = () =>
    new TenureError('TENURE_UNAVAILABLE', "the store's follow() returned no function to stop it", {
      details: { returned: typeof returned },
    });
  if (typeof (returned as PromiseLike<unknown> | null)?.then === 'function')
    (returned as PromiseLike<unknown>).then(() => end(broken()), end);
  else queueMicrotask(() => end(broken()));
  return () => {
    stopped = true;
  };
}

/**
 * Iterates the watch `open` returns into `listener` until the returned function is called. A
 * watch ends only with an error, so one that stops without one is reported as TENURE_UNAVAILABLE.
 */
export function followWatch(
  open: (signal: AbortSignal) => AsyncIterable<WatchBatch>,
  listener: WatchListener,
): () => void {
  const ac = new AbortController();
  const watch = open(ac.signal);
  void (async () => {
    try {
      for await (const batch of watch) {
        if (ac.signal.aborted) return;
        listener.batch(batch);
      }
      if (!ac.signal.aborted)
        listener.error(new TenureError('TENURE_UNAVAILABLE', 'the watch ended without an error'));
    } catch (err) {
      if (!ac.signal.aborted) listener.error(err);
    }
  })();
  return () => ac.abort(ENDED);
}
