/** The recipe suite (sessions, elections, locks, ...) on a real redis-server started by this file. */
import { RedisStore } from '../../src/store/redis/index.js';
import { RedisServer } from '../helpers/redis-server.js';
import { recipeSuite } from '../recipes/suite.js';

const started = RedisServer.start();
started.catch(() => undefined);

recipeSuite('redis', {
  open: async () => new RedisStore({ port: (await started).port, keyPrefix: 'recipes' }),
  ttlMs: 1000,
  queued: true,
  cleanup: async () => (await started).stop(),
});
