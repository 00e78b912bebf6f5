/**
 * Closing a PostgreSQL store while its watches are busy (waiting for their start, mid catch-up
 * over many pages, parked on a wake-up) and while its listening connection is being set up:
 * every open watch ends with TENURE_CLOSED exactly once, no promise is left rejected with nobody
 * listening, and no connection of the store outlives its close.
 */
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';
import { busyCloseSuite } from '../store/close-suite.js';

let server: PostgresServer;
let database: string;

busyCloseSuite({
  start: async () => {
    server = await PostgresServer.start();
    database = await server.createDatabase('close');
  },
  stop: async () => {
    await server?.stop();
  },
  open: () =>
    PostgresStore.open({
      port: server.port,
      user: PG_USER,
      password: PG_PASSWORD,
      database,
      connectTimeoutMs: 2000,
    }),
  // Connections to the test's database other than the one asking.
  connections: async () => {
    const c = new pg.Client({ port: server.port, user: PG_USER, password: PG_PASSWORD, database });
    await c.connect();
    try {
      const r = await c.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database],
      );
      return Number(r.rows[0]!.n);
    } finally {
      await c.end();
    }
  },
});
