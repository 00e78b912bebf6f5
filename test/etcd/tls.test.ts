/**
 * TLS and authentication against a real cluster that requires client certificates (a throwaway
 * CA and certificates made with openssl), and opening it by URL.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { openStore } from '../../src/store/open.js';
import type { WatchBatch } from '../../src/store/types.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

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
    const ctl = (...args: string[]) =>
      execFileSync(
        'etcdctl',
        [
          `--endpoints=${cluster.endpoints[0]}`,
          `--cacert=${tls.caPath}`,
          `--cert=${tls.certPath}`,
          `--key=${tls.keyPath}`,
          ...args,
        ],
        {
          encoding: 'utf8',
        },
      );
    ctl('user', 'add', 'root:rootpw');
    ctl('role', 'add', 'root');
    ctl('user', 'grant-role', 'root', 'root');
    ctl('user', 'add', 'app:apppw');
    ctl('role', 'add', 'app');
    ctl('role', 'grant-permission', 'app', '--prefix=true', 'readwrite', 'app/');
    ctl('user', 'grant-role', 'app', 'app');
    ctl('auth', 'enable');
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
      expect(denied).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: false });
      expect((denied as Error).message).toMatch(/permission denied/);
      const refused = await wrong.get('app/x').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: false });
      expect((refused as Error).message).toMatch(/authentication failed.*options.username/);
    } finally {
      await good.close();
      await wrong.close();
    }
  });
});
