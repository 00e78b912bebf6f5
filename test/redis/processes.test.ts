/**
 * Recipes across real OS processes on one redis-server: crash (SIGKILL), graceful stop (SIGTERM)
 * and pause (SIGSTOP) of leaders and lock holders, checked through a fenced resource, with a
 * negative control.
 */
import { recipeProcessSuite } from '../recipes/process-suite.js';
import { RedisServer } from '../helpers/redis-server.js';

const started = RedisServer.start();
started.catch(() => undefined);

recipeProcessSuite({
  name: 'Redis',
  // Longer than the SQLite variant's 800 ms: these processes share the machine with a Redis server each.
  ttlMs: 1500,
  /** The Redis expiry bound (capabilities.expiryBoundMs) plus scheduling slack on a loaded machine. */
  boundMs: 300 + 400,
  freshStore: async (_dir, label) => `${(await started).url}?keyPrefix=${label}`,
  cleanup: async () => {
    await (await started).stop();
  },
});
