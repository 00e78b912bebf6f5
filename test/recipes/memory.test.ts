import { MemoryStore } from '../../src/store/memory/index.js';
import { recipeSuite } from './suite.js';

const store = new MemoryStore();
recipeSuite('memory', { open: async () => store, ttlMs: 1000 });
