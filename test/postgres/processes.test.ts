/**
 * Recipes across real OS processes on one PostgreSQL store: crash (SIGKILL), graceful stop
 * (SIGTERM) and pause (SIGSTOP) of leaders and lock holders, checked through a fenced resource,
 * with a negative control.
 */
import { recipeProcessSuite } from '../recipes/process-suite.js';
import { PostgresServer } from '../helpers/postgres-server.js';

const started = PostgresServer.start();
started.catch(() => undefined);

recipeProcessSuite({
  name: 'PostgreSQL',
  ttlMs: 1000,
  /** The store's expiry bound (reaper 100 + grace 50 + 100) plus scheduling slack on a loaded 2-core machine. */
  boundMs: 250 + 400,
  freshStore: async () => {
    const server = await started;
    return server.url(await server.createDatabase('procs'));
  },
  cleanup: async () => {
    await (await started).stop();
  },
});
