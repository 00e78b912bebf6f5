/**
 * The conformance suite against a real PostgreSQL 15 server started by this file (one database
 * per store), plus the PostgreSQL-specific facts the suite cannot check.
 */
import { afterAll } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { sleep } from '../helpers/async.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';
import { conformance } from '../store/conformance.js';

const started = PostgresServer.start();
started.catch(() => undefined);

conformance('postgres', {
  open: async () => {
    const server = await started;
    const database = await server.createDatabase('conf');
    return PostgresStore.open({ port: server.port, user: PG_USER, password: PG_PASSWORD, database });
  },
  advance: (ms) => sleep(ms),
  realTime: true,
  ttlMs: 500,
  propertyRuns: 25,
});

afterAll(async () => {
  await (await started).stop();
});
