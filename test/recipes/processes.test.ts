/**
 * Recipes across real OS processes on one SQLite file: crash (SIGKILL), graceful stop (SIGTERM)
 * and pause (SIGSTOP) of leaders and lock holders, checked through a fenced resource, with a
 * negative control.
 */
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { recipeProcessSuite } from './process-suite.js';

recipeProcessSuite({
  name: 'SQLite',
  ttlMs: 800,
  /** SQLite's expiry bound (reaper interval + 50) plus scheduling slack on a loaded 2-core machine. */
  boundMs: 150 + 400,
  freshStore: async (dir) => {
    const path = join(dir, 'store.db');
    new SqliteStore({ path }).close();
    return `sqlite://${path}`;
  },
});
