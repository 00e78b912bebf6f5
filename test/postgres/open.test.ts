/**
 * Opening a PostgreSQL store: by URL, the schema's creation (idempotent, concurrent), and bad
 * input (a wrong password, a missing database, a schema owned by another role, a server that is
 * not PostgreSQL): a typed error in bounded time, and nothing created.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, type PostgresTlsOptions } from '../../src/store/postgres/index.js';
import { FUNCTIONS_VERSION, schemaSql } from '../../src/store/postgres/schema.js';
import { openStore } from '../../src/store/open.js';
import { codeOf, rejectionOf } from '../helpers/async.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';

const started = PostgresServer.start();
started.catch(() => undefined);
afterAll(async () => {
  await (await started).stop();
});

/** The schemas of `database` that hold anything (tables or functions). */
async function schemas(server: PostgresServer, database: string): Promise<string[]> {
  const rows = await server.sql<{ nspname: string }>(
    database,
    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public') ORDER BY 1",
  );
  return rows.map((r) => r.nspname);
}

describe('postgres:// URLs', () => {
  it('open a store in schema tenure by default, another with ?schema=, and postgresql:// alike', async () => {
    const server = await started;
    const db = await server.createDatabase('url');
    const a = await openStore(server.url(db));
    const b = await openStore(server.url(db, 'schema=billing').replace('postgres://', 'postgresql://'));
    try {
      await a.put('k', 'in tenure');
      await b.put('k', 'in billing');
      expect(Buffer.from((await a.get('k'))!.value).toString()).toBe('in tenure');
      expect(Buffer.from((await b.get('k'))!.value).toString()).toBe('in billing');
      expect(await schemas(server, db)).toEqual(['billing', 'tenure']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('take the password from options.password, and refuse it twice', async () => {
    const server = await started;
    const db = await server.createDatabase('url');
    const url = `postgres://${PG_USER}@127.0.0.1:${server.port}/${db}`;
    const store = await openStore(url, { password: PG_PASSWORD });
    await store.close();
    const err = await rejectionOf(openStore(server.url(db), { password: PG_PASSWORD }));
    expect(err.code).toBe('TENURE_INVALID_URL');
    expect(err.message).not.toContain(PG_PASSWORD);
  });

  it('reject unknown parameters, a missing database and TLS files without sslmode, showing no password', async () => {
    const cases = [
      'postgres://u:secret-pw@127.0.0.1:5432/db?bogus=1',
      'postgres://u:secret-pw@127.0.0.1:5432/',
      'postgres://u:secret-pw@127.0.0.1:5432/db?sslmode=disable&sslrootcert=/ca.pem',
      'postgres://u:secret-pw@127.0.0.1:5432/db?sslmode=maybe',
      'postgres://u:secret-pw@127.0.0.1:5432/db?requestTimeoutMs=soon',
    ];
    for (const url of cases) {
      const err = await rejectionOf(openStore(url));
      expect(err.code, url).toBe('TENURE_INVALID_URL');
      expect(err.message).not.toContain('secret-pw');
    }
  });

  it('rejects bad options naming the option', async () => {
    expect(await codeOf(PostgresStore.open({ port: 0 }))).toBe('TENURE_INVALID_ARGUMENT');
    await expect(PostgresStore.open({ requestTimeoutMs: 1000, connectTimeoutMs: 5000 })).rejects.toThrow(
      /options.connectTimeoutMs/,
    );
    await expect(PostgresStore.open({ schema: '' })).rejects.toThrow(/options.schema/);
    await expect(PostgresStore.open({ tls: { cert: 'x' } })).rejects.toThrow(/options.tls.cert/);
    // PEM material is text: anything else is named before a connection is tried.
    for (const field of ['ca', 'cert', 'key'] as const) {
      const tls = { cert: 'c', key: 'k', [field]: 42 } as unknown as PostgresTlsOptions;
      const err = await rejectionOf(PostgresStore.open({ tls }));
      expect(err.code).toBe('TENURE_INVALID_ARGUMENT');
      expect(err.message).toContain(`options.tls.${field}`);
    }
  });
});

describe('schema creation', () => {
  it('is idempotent and safe when many clients open a new database at once', async () => {
    const server = await started;
    const db = await server.createDatabase('race');
    const open = () =>
      PostgresStore.open({ port: server.port, user: PG_USER, password: PG_PASSWORD, database: db });
    const stores = await Promise.all(Array.from({ length: 6 }, open));
    const revisions = await Promise.all(stores.map((s) => s.put('k', 'v')));
    expect(new Set(revisions).size).toBe(6); // one store: six distinct revisions
    for (const s of stores) await s.close();
    const again = await open(); // an existing store: no DDL
    expect((await again.get('k'))?.version).toBe(6);
    await again.close();
  });

  it("replaces an existing store's older functions on open, keeps its data, and leaves newer ones", async () => {
    const server = await started;
    const db = await server.createDatabase('upgrade');
    const open = () =>
      PostgresStore.open({ port: server.port, user: PG_USER, password: PG_PASSWORD, database: db });
    const comment = async () =>
      (
        await server.sql<{ c: string | null }>(
          db,
          "SELECT obj_description('tenure.txn(jsonb)'::regprocedure, 'pg_proc') AS c",
        )
      )[0]!.c;
    const first = await open();
    await first.put('k', 'v');
    await first.close();
    expect(await comment()).toBe(`tenure functions ${FUNCTIONS_VERSION}`);
    // A store made by a tenure before function versions: no comment.
    await server.sql(db, 'COMMENT ON FUNCTION tenure.txn(jsonb) IS NULL');
    const upgraded = await open();
    expect(Buffer.from((await upgraded.get('k'))!.value).toString()).toBe('v');
    await upgraded.put('k', 'w');
    await upgraded.close();
    expect(await comment()).toBe(`tenure functions ${FUNCTIONS_VERSION}`);
    // Control: functions a newer tenure installed are not replaced by this one.
    await server.sql(db, "COMMENT ON FUNCTION tenure.txn(jsonb) IS 'tenure functions 999'");
    const newer = await open();
    expect((await newer.get('k'))?.version).toBe(2);
    await newer.close();
    expect(await comment()).toBe('tenure functions 999');
  });

  it('negative control: the same DDL run at once without the creation lock fails', async () => {
    const server = await started;
    let failures = 0;
    for (let round = 0; round < 5 && failures === 0; round++) {
      const db = await server.createDatabase('nolock');
      const clients = Array.from({ length: 6 }, () => new pg.Client(server.config(db)));
      await Promise.all(clients.map((c) => c.connect()));
      const results = await Promise.allSettled(clients.map((c) => c.query(schemaSql('tenure'))));
      failures += results.filter((r) => r.status === 'rejected').length;
      await Promise.all(clients.map((c) => c.end()));
    }
    expect(failures).toBeGreaterThan(0);
  });
});

describe('bad input: a typed error, and nothing created', () => {
  it('a wrong password: TENURE_STORE_UNUSABLE, no schema created', async () => {
    const server = await started;
    const db = await server.createDatabase('badpw');
    const err = await rejectionOf(openStore(server.url(db, '', PG_USER, 'wrong-password')));
    expect(err.code).toBe('TENURE_STORE_UNUSABLE');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/password/);
    expect(err.message).not.toContain('wrong-password');
    expect(await schemas(server, db)).toEqual([]);
  });

  it('a missing database: TENURE_STORE_UNUSABLE, and no database created', async () => {
    const server = await started;
    const err = await rejectionOf(openStore(server.url('no_such_database')));
    expect(err.code).toBe('TENURE_STORE_UNUSABLE');
    expect(err.message).toMatch(/no_such_database/);
    const dbs = await server.sql<{ n: number }>(
      'postgres',
      "SELECT count(*)::int AS n FROM pg_database WHERE datname = 'no_such_database'",
    );
    expect(dbs[0]!.n).toBe(0);
  });

  it('a schema owned by another role: TENURE_STORE_UNUSABLE naming the privilege, nothing created in it', async () => {
    const server = await started;
    const db = await server.createDatabase('owned');
    await server.sql(db, "CREATE ROLE app_a LOGIN PASSWORD 'app-a-pw'").catch(() => undefined);
    await server.sql(db, 'CREATE ROLE owner_b NOLOGIN').catch(() => undefined);
    await server.sql(db, `GRANT CONNECT, CREATE ON DATABASE ${db} TO app_a`);
    await server.sql(db, 'CREATE SCHEMA tenure AUTHORIZATION owner_b');
    const err = await rejectionOf(openStore(server.url(db, '', 'app_a', 'app-a-pw')));
    expect(err.code).toBe('TENURE_STORE_UNUSABLE');
    expect(err.message).toMatch(/permission denied|privilege/);
    const tables = await server.sql<{ n: number }>(
      db,
      "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenure'",
    );
    expect(tables[0]!.n).toBe(0);
    // Control: the same role opens the store in a schema of its own.
    const own = await openStore(server.url(db, 'schema=app_a_store', 'app_a', 'app-a-pw'));
    await own.put('k', 'v');
    await own.close();
  });

  it('a missing store with create: false: TENURE_STORE_UNUSABLE, nothing created', async () => {
    const server = await started;
    const db = await server.createDatabase('nocreate');
    const err = await rejectionOf(openStore(server.url(db), { create: false }));
    expect(err.code).toBe('TENURE_STORE_UNUSABLE');
    expect(await schemas(server, db)).toEqual([]);
  });

  async function fakeServer(reply: string | undefined): Promise<Server> {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        if (reply !== undefined) socket.end(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  it('a server that is not PostgreSQL: TENURE_STORE_UNUSABLE at once; a silent one: TENURE_UNAVAILABLE within connectTimeoutMs', async () => {
    const http = await fakeServer('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    const silent = await fakeServer(undefined);
    try {
      const port = (s: Server) => (s.address() as AddressInfo).port;
      let t0 = performance.now();
      const err = await rejectionOf(openStore(`postgres://u:pw@127.0.0.1:${port(http)}/db`));
      expect(err.code).toBe('TENURE_STORE_UNUSABLE');
      expect(err.message).toMatch(/PostgreSQL/);
      expect(performance.now() - t0).toBeLessThan(2000);
      t0 = performance.now();
      const hang = await rejectionOf(
        openStore(`postgres://u:pw@127.0.0.1:${port(silent)}/db?connectTimeoutMs=500&requestTimeoutMs=1000`),
      );
      expect(hang.code).toBe('TENURE_UNAVAILABLE');
      expect(hang.retryable).toBe(true);
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      http.close();
      silent.close();
    }
  });

  it('a port where nothing listens: TENURE_UNAVAILABLE at once', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const err = await rejectionOf(openStore(`postgres://u:pw@127.0.0.1:${port}/db`));
    expect(err.code).toBe('TENURE_UNAVAILABLE');
  });
});
