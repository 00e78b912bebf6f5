import { MemoryStore } from '../../src/store/memory/index.js';
import { membershipSuite } from './membership-suite.js';

membershipSuite('memory', async () => new MemoryStore(), 300);
