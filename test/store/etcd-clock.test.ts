/**
 * The etcd client's deadlines and retry pauses run on its `clock` option. No etcd is needed: the
 * only member listed refuses connections, so every call waits between attempts to reach it until
 * `requestTimeoutMs` of the clock has passed. Real time alone never fails the call; a global
 * timer or a deadline on performance.now() that crept back would.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { codeOf, sleep } from '../helpers/async.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('EtcdStore on an injected clock', () => {
  it('a call to an unreachable cluster fails after requestTimeoutMs of its clock, not of real time', async () => {
    const clock = new ManualClock();
    const store = new EtcdStore({
      endpoints: [`127.0.0.1:${await closedPort()}`],
      requestTimeoutMs: 500,
      connectTimeoutMs: 100,
      clock,
    });
    try {
      let failed = false;
      const call = store.get('k');
      call.catch(() => (failed = true));
      await sleep(1500); // three times requestTimeoutMs of real time
      expect(failed).toBe(false);
      // What it waits on is its pause before the next round of attempts: a timer of its clock.
      expect(clock.pending).toBe(1);
      await clock.advance(600);
      expect(await codeOf(call)).toBe('TENURE_UNAVAILABLE');
    } finally {
      await store.close();
    }
  }, 10_000); // a deadline on another clock than the pauses' would hang: fail fast

  it('refuses a clock that is not one, naming options.clock', () => {
    expect(
      () => new EtcdStore({ endpoints: ['127.0.0.1:2379'], clock: {} as unknown as ManualClock }),
    ).toThrow(/options\.clock/);
  });
});
