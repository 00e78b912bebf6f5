/**
 * `retryable` on etcd's errors (issue 12): a cluster out of space (its NOSPACE alarm) fails
 * writes with TENURE_UNAVAILABLE, retryable, like SQLite's full disk: the same call succeeds once
 * an operator has made room. A refusal that no wait fixes is TENURE_STORE_UNUSABLE (see
 * tls.test.ts for wrong credentials). Before, this was TENURE_UNAVAILABLE with retryable false.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

let cluster: EtcdCluster | undefined;
afterAll(async () => cluster?.stop());

describe('etcd out of space', () => {
  it('fails writes with TENURE_UNAVAILABLE, retryable, saying what to do', async () => {
    cluster = await EtcdCluster.start({ size: 1, flags: ['--quota-backend-bytes=2097152'] });
    const store = new EtcdStore({ endpoints: cluster.endpoints, requestTimeoutMs: 5000 });
    try {
      const value = 'x'.repeat(512 * 1024);
      let err: unknown;
      for (let i = 0; i < 64 && err === undefined; i++)
        await store.put(`big/${i}`, value).catch((e: unknown) => (err = e));
      expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: true });
      expect((err as Error).message).toMatch(/database space exceeded.*NOSPACE/);
    } finally {
      await store.close();
    }
  }, 60_000);
});
