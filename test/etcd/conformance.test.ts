/**
 * The conformance suite against a real 3-member etcd cluster started by this file, plus the
 * etcd-specific facts the suite cannot check: etcd's own lease minimum, TENURE_CORRUPT for
 * revisions that do not fit a double, option validation, and a closed store's in-flight calls.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exact } from '../../src/store/etcd/convert.js';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { codeOf, sleep } from '../helpers/async.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { conformance } from '../store/conformance.js';

let cluster: EtcdCluster | undefined;
const started = EtcdCluster.start().then((c) => (cluster = c));

conformance('etcd', {
  open: async () => {
    const c = await started;
    return new EtcdStore({ endpoints: c.endpoints, requestTimeoutMs: 5000 });
  },
  advance: (ms) => sleep(ms),
  realTime: true,
  ttlMs: 2000,
  propertyRuns: 25,
});

afterAll(async () => {
  await (await started).stop();
});

describe('EtcdStore specifics', () => {
  let store: EtcdStore;
  beforeAll(async () => {
    store = new EtcdStore({ endpoints: (await started).endpoints });
  });
  afterAll(async () => {
    await store?.close();
  });

  it("etcd's own minimum ttl is 2 s on default settings, as capabilities.minTtlMs says", async () => {
    // Ask etcd directly for a 1 s lease (the store would raise it before sending), through an
    // independent client (the etcd3 package, a peer in bench/) rather than etcdctl, so that this
    // test needs no binary beyond etcd itself.
    const peer = new Etcd3({ hosts: `http://${cluster!.endpoints[0]!}` });
    try {
      const granted = await peer.leaseClient.leaseGrant({ TTL: 1 });
      expect(Number(granted.TTL)).toBe(2);
      await peer.leaseClient.leaseRevoke({ ID: granted.ID });
    } finally {
      peer.close();
    }
    expect(store.capabilities.minTtlMs).toBe(2000);
    expect((await store.grant(2500)).ttlMs).toBe(3000);
  });

  it('revisions beyond 2^53 fail with TENURE_CORRUPT instead of rounding', () => {
    expect(exact('9007199254740991', 'revision')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => exact('9007199254740993', 'revision')).toThrow(
      expect.objectContaining({ code: 'TENURE_CORRUPT' }),
    );
  });

  it('lease ids are decimal strings of etcd int64 ids; an id etcd cannot hold is not found', async () => {
    const lease = await store.grant(5000);
    expect(lease.id).toMatch(/^[1-9][0-9]*$/);
    expect(await codeOf(store.keepAlive('99999999999999999999'))).toBe('TENURE_LEASE_NOT_FOUND');
    expect(await store.timeToLive('99999999999999999999')).toBeUndefined();
    await store.revoke(lease.id);
  });

  it('rejects bad options naming the option', () => {
    expect(() => new EtcdStore({ endpoints: [] })).toThrow(/options.endpoints/);
    expect(() => new EtcdStore({ endpoints: ['http://127.0.0.1:2379'] })).toThrow(/options.endpoints\[0\]/);
    expect(() => new EtcdStore({ endpoints: ['a:1'], requestTimeoutMs: 0 })).toThrow(
      /options.requestTimeoutMs/,
    );
    expect(
      () => new EtcdStore({ endpoints: ['a:1'], requestTimeoutMs: 500, connectTimeoutMs: 1000 }),
    ).toThrow(/options.connectTimeoutMs/);
    expect(() => new EtcdStore({ endpoints: ['a:1'], username: 'u' })).toThrow(/options.username/);
    expect(() => new EtcdStore({ endpoints: ['a:1'], tls: { cert: 'x' } })).toThrow(/options.tls/);
  });

  it('unreachable endpoints fail with TENURE_UNAVAILABLE within requestTimeoutMs', async () => {
    const s = new EtcdStore({
      endpoints: ['127.0.0.1:1', '127.0.0.1:2'],
      requestTimeoutMs: 500,
      connectTimeoutMs: 100,
    });
    const t0 = performance.now();
    const err = await s.get('x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: true });
    expect((err as Error).message).toMatch(/127\.0\.0\.1:1/);
    expect(performance.now() - t0).toBeLessThan(1500);
    await s.close();
  });

  it('close() fails calls in flight with TENURE_CLOSED at once', async () => {
    const s = new EtcdStore({ endpoints: ['127.0.0.1:1'], requestTimeoutMs: 10_000, connectTimeoutMs: 100 });
    const pending = s.get('x');
    await sleep(20);
    const t0 = performance.now();
    await s.close();
    expect(await codeOf(pending)).toBe('TENURE_CLOSED');
    expect(performance.now() - t0).toBeLessThan(200);
  });
});
