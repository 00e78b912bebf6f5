/**
 * Closing a Redis store while its watches are busy (waiting for their start, mid catch-up over
 * many pages, parked on the change tail) and while its connections are being set up: every open
 * watch ends with TENURE_CLOSED exactly once, no promise is left rejected with nobody listening,
 * and no connection of the store outlives its close.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTenureError } from '../../src/errors.js';
import { RedisStore } from '../../src/store/redis/index.js';
import type { WatchBatch } from '../../src/store/types.js';
import { eventually, sleep } from '../helpers/async.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
/** The first revision of the history. */
let first: number;
/** Revisions written before the test: a watch from its start reads them in two pages. */
const HISTORY = 1200;

beforeAll(async () => {
  server = await RedisServer.start();
  const s = open();
  first = (await s.revision()) + 1;
  for (let i = 0; i < HISTORY; i += 10)
    await Promise.all(Array.from({ length: 10 }, (_, j) => s.put(j % 2 === 0 ? 'k' : 'p/x', `v${i + j}`)));
  await s.close();
});

afterAll(async () => {
  await server?.stop();
});

function open(): RedisStore {
  return new RedisStore({ port: server.port, keyPrefix: 'close' });
}

/** Connections to the server other than the one asking. */
async function connectionsToServer(): Promise<number> {
  const c = new Redis({ port: server.port, lazyConnect: true });
  await c.connect();
  try {
    const list = (await c.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => line.trim() !== '').length - 1;
  } finally {
    c.disconnect();
  }
}

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

it('close ends every busy watch with TENURE_CLOSED once, rejects nothing unheard and leaves no connection', async () => {
  const unheard: unknown[] = [];
  const onUnhandled = (reason: unknown) => unheard.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    for (let round = 0; round < 24; round++) {
      const s = open();
      const watches = [
        s.watch('k', { fromRevision: first }), // catch-up over two pages
        s.watch('p/', { prefix: true, fromRevision: first }), // catch-up of a prefix
        s.watch('idle'), // nothing to read: parks on a wake-up
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
      // At once, not after a connection attempt or a pause times out.
      expect(performance.now() - closedAt).toBeLessThan(1000);
      for (const end of ends) {
        expect(end.codes).toEqual(['TENURE_CLOSED']);
        expect(end.after.done).toBe(true);
      }
    }
    // Give any late rejection the time to be reported.
    await sleep(100);
    expect(unheard).toEqual([]);
    // The server notices a client hung up shortly after.
    await eventually(async () => (await connectionsToServer()) === 0).catch(() => undefined);
    expect(await connectionsToServer()).toBe(0);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
