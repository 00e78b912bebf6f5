/**
 * The buffer behind every `observe({ signal })` iterator of membership and shards: the producer
 * never waits for a consumer. Each iterator has its own bounded queue; when a slow consumer lets
 * it fill, the oldest event is dropped and counted, and the count is reported on the next event
 * the consumer receives (`skipped`).
 */
import { abortedError } from '../errors.js';

/** An iterator over events, with the number of events dropped because the consumer was slow. */
export interface ObservedIterator<T> extends AsyncIterableIterator<T> {
  /** Events dropped so far because this iterator's buffer was full. */
  readonly skipped: number;
}

/** @internal */
export class EventBuffers<T> {
  readonly #subscribers = new Set<(event: T) => void>();

  /** Delivers `event` to every open iterator without waiting. */
  push(event: T): void {
    for (const s of this.#subscribers) s(event);
  }

  /** Ends every iterator (they finish after draining). */
  endAll(): void {
    for (const s of [...this.#subscribers]) s(END as T);
  }

  /**
   * A new iterator. `mark(event, skipped)` returns the event annotated with the number of events
   * dropped just before it. Ends when `signal` aborts (rejecting with TENURE_ABORTED) or when
   * {@link EventBuffers.endAll} is called.
   */
  subscribe(
    capacity: number,
    signal: AbortSignal | undefined,
    mark: (event: T, skipped: number) => T,
    initial: readonly T[] = [],
  ): ObservedIterator<T> {
    const queue: T[] = [...initial];
    let pendingSkips = 0;
    let skipped = 0;
    let ended = false;
    let wake: (() => void) | undefined;
    const subscribers = this.#subscribers;
    const sub = (event: T) => {
      if (event === END) ended = true;
      else {
        queue.push(event);
        if (queue.length > capacity) {
          queue.shift();
          pendingSkips++;
          skipped++;
        }
      }
      wake?.();
    };
    subscribers.add(sub);
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      subscribers.delete(sub);
      signal?.removeEventListener('abort', onAbort);
    };
    const it: ObservedIterator<T> = {
      get skipped() {
        return skipped;
      },
      async next(): Promise<IteratorResult<T>> {
        for (;;) {
          if (signal?.aborted) {
            finish();
            throw abortedError(signal, 'observe');
          }
          const e = queue.shift();
          if (e !== undefined) {
            // The dropped events were older than everything still queued: report them on the head.
            const value = pendingSkips > 0 ? mark(e, pendingSkips) : e;
            pendingSkips = 0;
            return { value, done: false };
          }
          if (ended) {
            finish();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<T>> {
        finish();
        ended = true;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}

const END = Symbol('end');
