/** The recipe suite (sessions, elections, locks, ...) on a real PostgreSQL 15 server started here. */
import { afterAll } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';
import { recipeSuite } from '../recipes/suite.js';

const started = PostgresServer.start();
started.catch(() => undefined);
const database = started.then((server) => server.createDatabase('recipes'));
database.catch(() => undefined);

recipeSuite('postgres', {
  open: async () =>
    PostgresStore.open({
      port: (await started).port,
      user: PG_USER,
      password: PG_PASSWORD,
      database: await database,
    }),
  ttlMs: 1000,
  queued: true,
});

afterAll(async () => {
  await (await started).stop();
});
