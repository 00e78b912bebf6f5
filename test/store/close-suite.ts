/**
 * Closing a network store while its watches are busy (waiting for their start, mid catch-up over
 * many pages, parked waiting for news) and while its connections are being set up: every open
 * watch ends with TENURE_CLOSED exactly once, no promise is left rejected with nobody listening,
 * and no connection of the store outlives its close. Run on PostgreSQL and Redis.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTenureError } from '../../src/errors.js';
import type { Store, WatchBatch } from '../../src/store/types.js';
import { eventually, sleep } from '../helpers/async.js';

/** One backend the suite runs on. */
export interface CloseBackend {
  /** Starts its server; run once before the test. */
  start(): Promise<void>;
  /** Stops what start() started. */
  stop(): Promise<void>;
  /** Opens a store on the server; every store opened shares one key space. */
  open(): Promise<Store>;
  /** How many connections to the store's server (or database) there are, the asking one aside. */
  connections(): Promise<number>;
}

/** Revisions written before the test: a watch from its start reads them in two pages. */
const HISTORY = 1200;

/** Reads a watch after its store closed: its batches until it ends, and how it ended. */
async function drain(
  it: AsyncIterator<WatchBatch>,
  first: Promise<IteratorResult<WatchBatch>>,
): Promise<{ codes: string[]; after: IteratorResult<WatchBatch> }> {
  const codes: string[] = [];
  let next = first;
  for (;;) {
    try {
      if ((await next).done === true) break;
    } catch (err) {
      codes.push(isTenureError(err) ? err.code : String(err));
      break;
    }
    next = it.next();
  }
  // A watch that ended stays ended: no second error.
  return { codes, after: await it.next() };
}

export function busyCloseSuite(backend: CloseBackend): void {
  /** The first revision of the history. */
  let first: number;

  beforeAll(async () => {
    await backend.start();
    const s = await backend.open();
    first = (await s.revision()) + 1;
    for (let i = 0; i < HISTORY; i += 10)
      await Promise.all(Array.from({ length: 10 }, (_, j) => s.put(j % 2 === 0 ? 'k' : 'p/x', `v${i + j}`)));
    await s.close();
  });

  afterAll(async () => {
    await backend.stop();
  });

  it('close ends every busy watch with TENURE_CLOSED once, rejects nothing unheard and leaves no connection', async () => {
    const unheard: unknown[] = [];
    const onUnhandled = (reason: unknown) => unheard.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let round = 0; round < 24; round++) {
        const s = await backend.open();
        const watches = [
          s.watch('k', { fromRevision: first }), // catch-up over two pages
          s.watch('p/', { prefix: true, fromRevision: first }), // catch-up of a prefix
          s.watch('idle'), // nothing to read: parks waiting for news
        ].map((w) => w[Symbol.asyncIterator]());
        // Nobody listens to these until the store has closed.
        const pending = watches.map((w) => w.next());
        // Close at different points of the watches' (and the connections') work: at once, after
        // the I/O already done, then 1 ms later each round.
        if (round === 1) await new Promise((resolve) => setImmediate(resolve));
        else if (round > 1) await sleep(round - 1);
        await s.close();
        const closedAt = performance.now();
        const ends = await Promise.all(watches.map((w, i) => drain(w, pending[i]!)));
        // At once, not after a connection attempt started before the close, or a pause, times out.
        expect(performance.now() - closedAt).toBeLessThan(1000);
        for (const end of ends) {
          expect(end.codes).toEqual(['TENURE_CLOSED']);
          expect(end.after.done).toBe(true);
        }
      }
      // Give any late rejection the time to be reported.
      await sleep(100);
      expect(unheard).toEqual([]);
      // The server notices shortly after that a client hung up.
      await eventually(async () => (await backend.connections()) === 0).catch(() => undefined);
      expect(await backend.connections()).toBe(0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
}
