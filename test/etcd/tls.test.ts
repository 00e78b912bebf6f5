/**
 * TLS and authentication against a real cluster that requires client certificates (a throwaway
 * CA and certificates made with openssl), and opening it by URL. Certificate problems (another
 * CA, no CA, a host-name mismatch, no client certificate) are reported by their cause, at once;
 * and connecting to an IP address sets no TLS server name (no DEP0123 warning).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { openStore } from '../../src/store/open.js';
import type { WatchBatch } from '../../src/store/types.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');

// Every warning this process emits, from before its first TLS connection.
const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

describe('etcd over TLS with client certificates', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await EtcdCluster.start({ tls: true });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a client with the CA and a client certificate works: txn, lease and watch', async () => {
    const tls = cluster.tls!;
    const store = new EtcdStore({
      endpoints: cluster.endpoints,
      tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
    });
    try {
      const it = store.watch('tls/', { prefix: true })[Symbol.asyncIterator]();
      const next = it.next();
      const lease = await store.grant(5000);
      const rev = await store.put('tls/a', 'secret', { lease: lease.id });
      const batch = await next;
      expect((batch.value as WatchBatch).events.map((e) => [e.kv.key, e.kv.modRevision])).toEqual([
        ['tls/a', rev],
      ]);
      await it.return?.();
      await store.revoke(lease.id);
    } finally {
      await store.close();
    }
  });

  /** What a get() on a store with these options rejects with, and how long that took. */
  async function refusal(options: ConstructorParameters<typeof EtcdStore>[0]) {
    const store = new EtcdStore({ requestTimeoutMs: 5000, ...options });
    try {
      const t0 = performance.now();
      const err = await store.get('tls/a').catch((e: unknown) => e);
      return { err: err as Error & { code?: string }, ms: performance.now() - t0 };
    } finally {
      await store.close();
    }
  }

  it('a server certificate from another CA is reported as such, at once, not as a timeout', async () => {
    const dir = cluster.dir;
    openssl(
      'req',
      '-x509',
      ...EC,
      '-keyout',
      join(dir, 'other-ca.key'),
      '-out',
      join(dir, 'other-ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=another-ca',
    );
    const tls = cluster.tls!;
    const { err, ms } = await refusal({
      endpoints: cluster.endpoints,
      tls: { ca: readFileSync(join(dir, 'other-ca.crt'), 'utf8'), cert: tls.cert, key: tls.key },
    });
    expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE' });
    expect(err.message).toMatch(/unable to verify the first certificate/);
    expect(err.message).toMatch(/not signed by options\.tls\.ca/);
    expect(err.message).not.toMatch(/client certificate|within options\.requestTimeoutMs/);
    expect(ms).toBeLessThan(2500);
    // The CLI says the same, rather than "unreachable: no answer within 5000 ms".
    const q = new URLSearchParams({ ca: join(dir, 'other-ca.crt'), cert: tls.certPath, key: tls.keyPath });
    const cli = spawnSync(
      process.execPath,
      [CLI, 'status', '--store', `etcds://${cluster.endpoints.join(',')}?${q}`],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/unable to verify the first certificate/);
    expect(cli.stderr).not.toMatch(/no answer within/);
    expect(cli.stderr).not.toMatch(/DEP0123/);
  });

  it("no CA (Node's root CAs only) is reported as an untrusted certificate, even without a client certificate", async () => {
    const { err, ms } = await refusal({ endpoints: cluster.endpoints, tls: true });
    expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE' });
    expect(err.message).toMatch(/unable to verify the first certificate/);
    expect(err.message).toMatch(/options\.tls\.ca is not set/);
    expect(err.message).not.toMatch(/require a client certificate/);
    expect(ms).toBeLessThan(2500);
  });

  it('a host-name mismatch is reported as such', async () => {
    // A TLS server whose certificate, signed by the cluster's CA, names another address.
    const dir = cluster.dir;
    openssl(
      'req',
      ...EC,
      '-keyout',
      join(dir, 'elsewhere.key'),
      '-out',
      join(dir, 'elsewhere.csr'),
      '-subj',
      '/CN=elsewhere',
    );
    writeFileSync(join(dir, 'elsewhere.ext'), 'subjectAltName=IP:127.0.0.2,DNS:elsewhere.example\n');
    openssl(
      'x509',
      '-req',
      '-in',
      join(dir, 'elsewhere.csr'),
      '-CA',
      cluster.tls!.caPath,
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-out',
      join(dir, 'elsewhere.crt'),
      '-days',
      '1',
      '-extfile',
      join(dir, 'elsewhere.ext'),
    );
    const server: Server = createServer({
      key: readFileSync(join(dir, 'elsewhere.key')),
      cert: readFileSync(join(dir, 'elsewhere.crt')),
      ALPNProtocols: ['h2'],
    });
    server.on('tlsClientError', () => undefined);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const tls = cluster.tls!;
      const { err, ms } = await refusal({
        endpoints: [`127.0.0.1:${(server.address() as AddressInfo).port}`],
        tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
      });
      expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE' });
      expect(err.message).toMatch(/Hostname\/IP does not match certificate's altnames/);
      expect(err.message).toMatch(/host name mismatch/);
      expect(ms).toBeLessThan(2500);
    } finally {
      server.close();
    }
  });

  it('connecting to an IP address sets no TLS server name: no DEP0123 warning', () => {
    // Every test above connected to 127.0.0.1 over TLS.
    expect(warnings.map((w) => `${(w as { code?: string }).code ?? ''} ${w.message}`)).not.toContainEqual(
      expect.stringMatching(/DEP0123|ServerName to an IP address/),
    );
  });

  it('a client without a certificate is refused with a clear TENURE_UNAVAILABLE error, in bounded time', async () => {
    const store = new EtcdStore({
      endpoints: cluster.endpoints,
      tls: { ca: cluster.tls!.ca },
      requestTimeoutMs: 1500,
    });
    try {
      const t0 = performance.now();
      const err = await store.get('tls/a').catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(err).toMatchObject({ name: 'TenureError', code: 'TENURE_UNAVAILABLE' });
      const message = (err as Error).message;
      expect(message).toContain(cluster.endpoints[0]);
      expect(message).toMatch(
        /require a client certificate, so set options\.tls\.cert and options\.tls\.key/,
      );
    } finally {
      await store.close();
    }
  });

  it('a plaintext client is refused too', async () => {
    const store = new EtcdStore({ endpoints: cluster.endpoints, requestTimeoutMs: 1000 });
    try {
      expect(await store.get('x').catch((e: unknown) => (e as { code?: string }).code)).toBe(
        'TENURE_UNAVAILABLE',
      );
    } finally {
      await store.close();
    }
  });

  it('opens by URL: etcds://host:port,...?ca=&cert=&key=', async () => {
    const tls = cluster.tls!;
    const q = new URLSearchParams({ ca: tls.caPath, cert: tls.certPath, key: tls.keyPath, namespace: 'ns/' });
    const store = await openStore(`etcds://${cluster.endpoints.join(',')}?${q}`);
    try {
      await store.put('k', 'v');
      expect(store.capabilities.backend).toBe('etcd');
      expect((await store.get('k'))?.key).toBe('k');
    } finally {
      await store.close();
    }
    const bad = await openStore(`etcd://${cluster.endpoints[0]}?ca=${tls.caPath}`).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'TENURE_INVALID_URL' });
    expect((bad as Error).message).toMatch(/use etcds:\/\/.*accepted forms: .*etcd:\/\/host:port,host:port/);
    const refusal = (url: string) => openStore(url).catch((e: unknown) => e);
    expect(await refusal('etcd://')).toMatchObject({
      code: 'TENURE_INVALID_URL',
      message: expect.stringMatching(/needs at least one member/),
    });
    expect(await refusal('etcd://a:1,nope')).toMatchObject({
      code: 'TENURE_INVALID_URL',
      message: expect.stringMatching(/"nope" is not host:port/),
    });
    expect(await refusal('etcd://a:1/path')).toMatchObject({
      code: 'TENURE_INVALID_URL',
      message: expect.stringMatching(/takes no path/),
    });
    expect(await openStore('etcd://a:1?bogus=1').catch((e: unknown) => (e as { code?: string }).code)).toBe(
      'TENURE_INVALID_URL',
    );
  });

  it('username and password: a token per store, refused with a clear error when wrong', async () => {
    const tls = cluster.tls!;
    // etcd's JSON gateway (etcdctl is not always installed), as the client the cluster trusts.
    const gateway = (path: string, body: object) =>
      new Promise<void>((resolve, reject) => {
        const [host, port] = cluster.endpoints[0]!.split(':');
        const req = request(
          {
            host,
            port: Number(port),
            path: `/v3/${path}`,
            method: 'POST',
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
          },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode} ${text}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    await gateway('auth/user/add', { name: 'root', password: 'rootpw' });
    await gateway('auth/role/add', { name: 'root' });
    await gateway('auth/user/grant', { user: 'root', role: 'root' });
    await gateway('auth/user/add', { name: 'app', password: 'apppw' });
    await gateway('auth/role/add', { name: 'app' });
    await gateway('auth/role/grant', {
      name: 'app',
      perm: {
        permType: 'READWRITE',
        key: Buffer.from('app/').toString('base64'),
        range_end: Buffer.from('app0').toString('base64'),
      },
    });
    await gateway('auth/user/grant', { user: 'app', role: 'app' });
    await gateway('auth/enable', {});
    const opts = {
      endpoints: cluster.endpoints,
      tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
      requestTimeoutMs: 2000,
    };
    const good = new EtcdStore({ ...opts, username: 'app', password: 'apppw' });
    const wrong = new EtcdStore({ ...opts, username: 'app', password: 'nope' });
    try {
      await good.put('app/x', '1');
      expect((await good.get('app/x'))?.version).toBe(1);
      const denied = await good.put('other/x', '1').catch((e: unknown) => e);
      expect(denied).toMatchObject({ code: 'TENURE_STORE_UNUSABLE', retryable: false });
      expect((denied as Error).message).toMatch(/permission denied/);
      const refused = await wrong.get('app/x').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'TENURE_STORE_UNUSABLE', retryable: false });
      expect((refused as Error).message).toMatch(/authentication failed.*options.username/);
    } finally {
      await good.close();
      await wrong.close();
    }
  });
});
