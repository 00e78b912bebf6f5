// A fleet member for multi-process tests on PostgreSQL. Prints one JSON line per event.
// argv: storeUrl mode(elect|lock|pause-writer|loop) id ttlMs counterPath fenced(1|0) cycles
// loop: takes the lock `cycles` times, riding out store outages: a failed call is logged with
// its code, a lost session is replaced, and the work goes on.
import { Election, Mutex, Session, openStore, isTenureError } from '../../dist/src/index.js';
import { FencedCounter } from '../../dist/examples/fenced-counter.js';

const [url, mode, id, ttlArg, counterPath, fencedArg, cyclesArg] = process.argv.slice(2);
const ttlMs = Number(ttlArg);
const now = () => performance.timeOrigin + performance.now();
const out = (event, extra = {}) =>
  process.stdout.write(`${JSON.stringify({ event, id, at: now(), ...extra })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const store = await openStore(url, { password: process.env.TENURE_TEST_PASSWORD });

if (mode === 'loop') {
  const counter = new FencedCounter(counterPath, fencedArg === '1');
  let session;
  for (let done = 0; done < Number(cyclesArg);) {
    try {
      if (session === undefined || session.status !== 'alive') {
        session = await Session.create(store, { ttlMs });
        out('session', { lease: session.lease });
      }
      await new Mutex(session, 'counter').withLock(
        async (signal, lock) => {
          const value = counter.read();
          if (signal.aborted) return;
          const accepted = counter.write(value + 1, lock.fencingToken);
          out('write', { token: lock.fencingToken, accepted });
        },
        { timeoutMs: 10_000 },
      );
      done++;
    } catch (err) {
      out('error', { code: isTenureError(err) ? err.code : String(err) });
      await sleep(50);
    }
  }
  out('done');
  await session?.close().catch(() => undefined);
  await store.close();
  process.exit(0);
}

const session = await Session.create(store, { ttlMs });
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
  await store.close();
  process.exit(0);
} else if (mode === 'pause-writer') {
  // Takes the lock, reads, checks its signal, then pauses (the test SIGSTOPs it here) and
  // writes without checking again: the window fencing exists for.
  const counter = new FencedCounter(counterPath, fencedArg === '1');
  const lock = await new Mutex(session, 'counter').lock();
  lock.signal.addEventListener('abort', () => out('signal-aborted', { reason: lock.signal.reason?.code }));
  const value = counter.read();
  out('checked', { token: lock.fencingToken, aborted: lock.signal.aborted, value });
  await sleep(300);
  // Resumed past its ttl, the holder writes at once. Its status compares the session's deadline
  // with the clock, so it already says `lost`; the signal aborts when the session's timer or the
  // store's news of the lost key runs, which may come after the write (timers that fell due
  // during the pause run in order of due time, and a network store's news is I/O, which waits
  // for them): the writer waits for it, with a bound, before it exits.
  const status = lock.status;
  const accepted = counter.write(value + 1, lock.fencingToken);
  const aborted = new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
  if (!lock.signal.aborted) await Promise.race([aborted, sleep(4 * Number(ttlArg))]);
  out('late-write', { token: lock.fencingToken, accepted, status, signalAborted: lock.signal.aborted });
  process.exit(0);
}
