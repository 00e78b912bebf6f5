// A fleet member on a Redis store for the multi-process and fault tests. One JSON line per event.
// argv: storeUrl mode(elect|lock|loop) id ttlMs counterPath fenced(1|0) cycles
// loop: takes the lock again and again (a new session when the old one ended), until killed.
import { Election, Mutex, Session, openStore } from '../../dist/src/index.js';
import { FencedCounter } from '../../dist/examples/fenced-counter.js';

const [url, mode, id, ttlArg, counterPath, fencedArg, cyclesArg] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const out = (event, extra = {}) =>
  process.stdout.write(`${JSON.stringify({ event, id, at: now(), ...extra })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const store = await openStore(url, { namespace: '' });
let session = await Session.create(store, { ttlMs: Number(ttlArg) });
out('session', { lease: session.lease });

if (mode === 'elect') {
  for (;;) {
    const leadership = await new Election(session, 'fleet').campaign(id);
    out('leader', { term: leadership.term });
    await new Promise((resolve) => leadership.signal.addEventListener('abort', resolve));
    out('lost', { term: leadership.term });
  }
} else if (mode === 'lock') {
  const counter = new FencedCounter(counterPath, fencedArg === '1');
  const mutex = new Mutex(session, 'counter');
  for (let i = 0; i < Number(cyclesArg); i++) {
    await mutex.withLock(async (signal, lock) => {
      const value = counter.read();
      if (signal.aborted) return;
      const accepted = counter.write(value + 1, lock.fencingToken);
      out('write', { token: lock.fencingToken, accepted });
    });
  }
  out('done');
  await session.close();
  process.exit(0);
} else if (mode === 'loop') {
  const counter = new FencedCounter(counterPath, fencedArg === '1');
  for (;;) {
    try {
      if (!session.alive) {
        await session.close().catch(() => undefined);
        session = await Session.create(store, { ttlMs: Number(ttlArg) });
        out('session', { lease: session.lease });
      }
      const lock = await new Mutex(session, 'counter').lock({ timeoutMs: 3000 });
      out('acquired', { token: lock.fencingToken });
      const value = counter.read();
      await sleep(20); // the holder works a little: the window a second holder would overlap
      const accepted = counter.write(value + 1, lock.fencingToken);
      out('write', { token: lock.fencingToken, accepted, lost: lock.signal.aborted });
      await lock.close().catch(() => undefined);
    } catch (err) {
      out('error', { code: err?.code ?? String(err) });
      await sleep(50);
    }
  }
}
