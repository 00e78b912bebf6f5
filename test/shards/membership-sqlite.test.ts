import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';
import { membershipSuite } from './membership-suite.js';

const tmp = tempDir();
membershipSuite(
  'sqlite',
  async () => new SqliteStore({ path: join(tmp.dir, 'members.db') }),
  500,
  tmp.cleanup,
);
