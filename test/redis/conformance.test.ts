/** The conformance suite against a real redis-server started by this file. */
import { afterAll } from 'vitest';
import { RedisStore } from '../../src/store/redis/index.js';
import { sleep } from '../helpers/async.js';
import { RedisServer } from '../helpers/redis-server.js';
import { conformance } from '../store/conformance.js';

const started = RedisServer.start();
started.catch(() => undefined);
let n = 0;

conformance('redis', {
  // Each open is a store of its own on the same server: another hash tag.
  open: async () => new RedisStore({ port: (await started).port, keyPrefix: `conformance-${++n}` }),
  advance: (ms) => sleep(ms),
  realTime: true,
  ttlMs: 500,
  propertyRuns: 25,
});

afterAll(async () => {
  await (await started).stop();
});
