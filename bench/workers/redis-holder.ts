/**
 * Benchmark child for the Redis crash failover: takes one lock and holds it until killed.
 * `tenure <port> <ttlMs>`: the Mutex recipe on a session of that ttl.
 * `redlock <port> <ttlMs>`: redlock's lock of that ttl (never extended: a holder that dies lets it
 * lapse after the ttl).
 * Prints `held <wall ms>` once it holds.
 */
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { RedisStore } from '../../src/store/redis/index.js';

const [mode, port, ttl] = process.argv.slice(2) as [string, string, string];
if (mode === 'tenure') {
  const store = new RedisStore({ port: Number(port), keyPrefix: 'bench-failover' });
  const session = await Session.create(store, { ttlMs: Number(ttl) });
  await new Mutex(session, 'failover').lock();
} else {
  const client = new Redis({ port: Number(port) });
  const redlock = new Redlock([client as unknown as Redlock.CompatibleRedisClient]);
  await redlock.lock('bench-failover-redlock', Number(ttl));
}
process.stdout.write(`held ${performance.timeOrigin + performance.now()}\n`);
setInterval(() => undefined, 1 << 30);
