/**
 * Closing a Redis store while its watches are busy (waiting for their start, mid catch-up over
 * many pages, parked on the change tail) and while its connections are being set up: every open
 * watch ends with TENURE_CLOSED exactly once, no promise is left rejected with nobody listening,
 * and no connection of the store outlives its close.
 */
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis/index.js';
import { RedisServer } from '../helpers/redis-server.js';
import { busyCloseSuite } from '../store/close-suite.js';

let server: RedisServer;

busyCloseSuite({
  start: async () => {
    server = await RedisServer.start();
  },
  stop: async () => {
    await server?.stop();
  },
  open: () => Promise.resolve(new RedisStore({ port: server.port, keyPrefix: 'close' })),
  // Connections to the server other than the one asking.
  connections: async () => {
    const c = new Redis({ port: server.port, lazyConnect: true });
    await c.connect();
    try {
      const list = (await c.call('CLIENT', 'LIST')) as string;
      return list.split('\n').filter((line) => line.trim() !== '').length - 1;
    } finally {
      c.disconnect();
    }
  },
});
