/**
 * tenure: high availability for fleets of Node.js processes.
 *
 * Sessions kept alive by heartbeats, leader election with failover, fenced locks, membership and
 * consistent hashing, all written once over one small Store contract (see `store/types.ts`).
 */
export * from './errors.js';
export * from './clock.js';
export * from './store/index.js';
export { MemoryStore, type MemoryStoreOptions, MEMORY_STORE_DEFAULTS } from './store/memory/index.js';
export * from './recipes/index.js';
