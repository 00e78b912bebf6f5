/**
 * The store script's look for expired leases, skipped while no lease can have expired (calls
 * straight to the script: no store, so no periodic reap call), and change-log entries the store
 * cannot parse, on a real redis-server.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis/index.js';
import { STORE_SCRIPT } from '../../src/store/redis/script.lua.js';
import type { WatchBatch } from '../../src/store/types.js';
import { sleep } from '../helpers/async.js';
import { RedisServer } from '../helpers/redis-server.js';

const KEYS = ['meta', 'kv', 'idx', 'leases', 'lttl', 'lkeys', 'log'];
let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis({ port: server.port });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** One call of `script` on the store under `prefix` (run id unknown: the script reads it). */
function call(script: string, prefix: string, command: string, ...args: string[]): Promise<unknown> {
  return redis.eval(
    script,
    KEYS.length,
    ...KEYS.map((k) => `{${prefix}}:${k}`),
    command,
    '1000',
    '',
    ...args,
  );
}

/** Grants a long lease, then a short one holding `k`; after the short one's ttl, reads `k`. */
async function shortLeaseAfterLongOne(script: string, prefix: string): Promise<unknown> {
  await call(script, prefix, 'grant', '60000');
  const short = String(await call(script, prefix, 'grant', '500'));
  await call(script, prefix, 'txn', '0', '1', 'p', 'k', 'v', short, '0');
  await sleep(700);
  const reply = (await call(script, prefix, 'txn', '0', '1', 'g', 'k', '0', '0', '0')) as [
    number,
    number,
    unknown[][],
  ];
  return reply[2][0]![1] ?? null; // the key, or null when it is gone
}

describe('lease expiry in the store script', () => {
  it('a lease shorter than every earlier one is reaped by the first call after its expiry', async () => {
    expect(await shortLeaseAfterLongOne(STORE_SCRIPT, 'due')).toBeNull();
  });

  it('control: with a grant that does not move the earliest expiry forward, the expired key is still there', async () => {
    const unlowered = STORE_SCRIPT.replace('if expiry < due then', 'if false then');
    expect(unlowered).not.toBe(STORE_SCRIPT);
    expect(await shortLeaseAfterLongOne(unlowered, 'due-control')).toBe('k');
  });
});

describe('change-log entries the tail cannot parse', () => {
  for (const malformed of [false, true])
    it(
      malformed
        ? 'a malformed entry ends a running watch with TENURE_CORRUPT, not silently'
        : 'control: a well-formed entry appended the same way is delivered',
      async () => {
        const prefix = malformed ? 'corrupt' : 'corrupt-control';
        const store = new RedisStore({ port: server.port, keyPrefix: prefix });
        const ac = new AbortController();
        try {
          const r0 = await store.put('k', 'v0');
          const it = store.watch('k', { fromRevision: r0 + 1, signal: ac.signal })[Symbol.asyncIterator]();
          const first = it.next();
          const r1 = await store.put('k', 'v1'); // the tail is running and has handed this over
          expect(((await first).value as WatchBatch).revision).toBe(r1);
          const next = it.next();
          const rec = `${r1},${r1 + 1},3,;v2`;
          const blob = malformed ? 'p1:kXX' : `p1:k${rec.length}:${rec}`;
          await redis.xadd(`{${prefix}}:log`, `${r1 + 1}-0`, 'e', blob);
          const outcome = await next.then(
            (r) => ({ revision: (r.value as WatchBatch).revision }),
            (err: { code?: string }) => ({ code: err.code }),
          );
          expect(outcome).toEqual(malformed ? { code: 'TENURE_CORRUPT' } : { revision: r1 + 1 });
        } finally {
          ac.abort();
          await store.close();
        }
      },
    );
});
