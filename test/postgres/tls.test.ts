/** PostgreSQL over TLS, with libpq's sslmode names in the URL, against a server that serves TLS. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/async.js';
import { openStore } from '../../src/store/open.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { tempDir } from '../helpers/tmp.js';

const started = PostgresServer.start({ tls: true });
started.catch(() => undefined);
const tmp = tempDir('tenure-pg-tls-');
afterAll(async () => {
  await (await started).stop();
  tmp.cleanup();
});

describe('TLS', () => {
  it('sslmode=verify-full with the CA that signed the server certificate works', async () => {
    const server = await started;
    const url = server.url(
      await server.createDatabase('tls'),
      `sslmode=verify-full&sslrootcert=${server.caPath!}`,
    );
    const store = await openStore(url);
    try {
      await store.put('k', 'over tls');
      expect(Buffer.from((await store.get('k'))!.value).toString()).toBe('over tls');
      const ssl = await server.sql<{ n: number }>(
        'postgres',
        "SELECT count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'tenure' AND s.ssl",
      );
      expect(ssl[0]!.n).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('negative control: another CA is refused with TENURE_STORE_UNUSABLE naming TLS, nothing created', async () => {
    const server = await started;
    const db = await server.createDatabase('tls_bad');
    const otherCa = join(tmp.dir, 'other-ca.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(tmp.dir, 'other-ca.key'),
        '-out',
        otherCa,
        '-days',
        '1',
        '-subj',
        '/CN=someone-else',
      ],
      { stdio: 'pipe' },
    );
    const err = await rejectionOf(openStore(server.url(db, `sslmode=verify-full&sslrootcert=${otherCa}`)));
    expect(err.code).toBe('TENURE_STORE_UNUSABLE');
    expect(err.message).toMatch(/TLS/);
    const schemas = await server.sql<{ n: number }>(
      db,
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'tenure'",
    );
    expect(schemas[0]!.n).toBe(0);
  });

  it('sslmode=require encrypts without checking the certificate', async () => {
    const server = await started;
    const store = await openStore(server.url(await server.createDatabase('tls_req'), 'sslmode=require'));
    await store.put('k', 'v');
    await store.close();
  });
});
