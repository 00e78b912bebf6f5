/**
 * The epoch check without an INFO per call: a caller passes the run id it read on its own
 * connection, and the script trusts a run id equal to the recorded one. So the argument must never
 * be a run id read on an earlier connection: these tests show that the script would trust such a
 * stale one (the control), and that the store never sends one, even for a call queued while it
 * reconnects to a restarted server (with a naive cache, the control, it does).
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisStore } from '../../src/store/redis/index.js';
import { ConnectionRunId } from '../../src/store/redis/run-id.js';
import { STORE_SCRIPT } from '../../src/store/redis/script.lua.js';
import { sleep } from '../helpers/async.js';
import { RedisServer } from '../helpers/redis-server.js';

const KEYS = ['meta', 'kv', 'idx', 'leases', 'lttl', 'lkeys', 'log'];
const runIdOf = async (redis: Redis) => /run_id:([0-9a-f]+)/.exec(await redis.info('server'))![1]!;
/**
 * An epoch starts at the server's clock in µs: far above the last revision, as a new store starts
 * at the clock too and the restart took more than a millisecond.
 */
const EPOCH_JUMP = 1000;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the epoch check and the run id a caller passes', () => {
  it('after a restart that kept the data, the script starts an epoch for an unknown or different run id, and trusts the recorded one (control)', async () => {
    const server = await RedisServer.start({ persistence: 'always' });
    let redis = new Redis({ port: server.port });
    const revision = (prefix: string, runId: string) =>
      redis.eval(
        STORE_SCRIPT,
        KEYS.length,
        ...KEYS.map((k) => `{${prefix}}:${k}`),
        'revision',
        '1000',
        runId,
      );
    try {
      const before: Record<string, number> = {};
      for (const prefix of ['unknown', 'other', 'stale']) {
        await redis.eval(
          STORE_SCRIPT,
          KEYS.length,
          ...KEYS.map((k) => `{${prefix}}:${k}`),
          'txn',
          '1000',
          '',
          '0',
          '1',
          'p',
          'k',
          'v',
          '',
          '0',
        );
        before[prefix] = (await revision(prefix, '')) as number;
      }
      const oldRunId = await runIdOf(redis);
      redis.disconnect();
      await server.restart();
      redis = new Redis({ port: server.port });
      expect(await runIdOf(redis)).not.toBe(oldRunId);
      // '' (the caller does not know the run id of its connection): the script reads INFO.
      expect(await revision('unknown', '')).toBeGreaterThan(before.unknown! + EPOCH_JUMP);
      // A run id the data was not written by: INFO decides, not the argument.
      expect(await revision('other', createHash('sha1').update('x').digest('hex'))).toBeGreaterThan(
        before.other! + EPOCH_JUMP,
      );
      // Control: the recorded run id of the process before the restart is trusted, and the
      // revision counts on from the recovered data. So only a run id read on the very connection
      // a call goes out on may be passed.
      expect(await revision('stale', oldRunId)).toBe(before.stale);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  for (const naive of [false, true])
    it(
      naive
        ? 'control: a run id read once and kept across reconnects is sent to the restarted server, and the restart goes unnoticed'
        : 'a call queued while the store reconnects to a restarted server does not carry the old run id: it starts an epoch',
      async () => {
        if (naive) {
          // The store's first run id, kept for good (also for the call sent again after NOSCRIPT).
          let first: string | undefined;
          vi.spyOn(ConnectionRunId.prototype, 'argument').mockImplementation(function (
            this: ConnectionRunId,
          ) {
            first ??= (this as unknown as { known?: { id: string } }).known?.id;
            return first ?? '';
          });
        }
        const server = await RedisServer.start({ persistence: 'always' });
        const store = new RedisStore({ port: server.port, requestTimeoutMs: 3000 });
        try {
          await store.put('k', 'v');
          await sleep(100); // the run id of this connection is known
          const r1 = await store.put('k', 'v');
          expect(await store.put('k', 'v')).toBe(r1 + 1); // no epoch without a restart
          await server.kill();
          // Calls made while the store waits to reconnect are queued by the driver; each failed
          // attempt fails them, and this loop makes the next one at once. So the call that
          // succeeds was queued, and went out on the new connection as soon as it was ready,
          // before the run id of that connection was read.
          const queued = (async () => {
            for (;;) {
              try {
                return await store.put('k', 'v');
              } catch {
                // the server is down: the next call waits for the next attempt
              }
            }
          })();
          await sleep(100);
          await server.restart();
          const r2 = await queued;
          if (naive) expect(r2).toBe(r1 + 2);
          else expect(r2).toBeGreaterThan(r1 + EPOCH_JUMP);
        } finally {
          await store.close();
          await server.stop();
        }
      },
    );
});
