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
  if (store.follow !== undefined) return store.follow(key, options, listener);
  return followWatch((signal) => store.watch(key, { ...options, signal }), listener);
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
