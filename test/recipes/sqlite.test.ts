import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';
import { recipeSuite } from './suite.js';

const tmp = tempDir();
recipeSuite('sqlite', {
  open: async () => new SqliteStore({ path: join(tmp.dir, 'recipes.db') }),
  ttlMs: 1000,
  cleanup: async () => tmp.cleanup(),
});
