/** The recipe suite (sessions, elections, locks, ...) on a real 3-member etcd cluster. */
import { describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/mutex.js';
import { Session } from '../../src/recipes/session.js';
import { EtcdStore } from '../../src/store/etcd/index.js';
import { openStore } from '../../src/store/open.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { recipeSuite } from '../recipes/suite.js';

const started = EtcdCluster.start();
started.catch(() => undefined);

// Before the suite: its cleanup stops the cluster.
describe('etcd stores opened by URL', () => {
  /** Takes a lock through `url` and returns the raw etcd keys it wrote (read without a namespace). */
  async function lockKeys(url: string, name: string): Promise<string[]> {
    const { endpoints } = await started;
    const raw = new EtcdStore({ endpoints });
    const store = await openStore(url.replace('HOSTS', endpoints.join(',')));
    try {
      const session = await Session.create(store, { ttlMs: 2000 });
      const lock = await new Mutex(session, name).lock({ timeoutMs: 10_000 });
      const keys = (await raw.range('')).kvs.map((kv) => kv.key).filter((k) => k.includes(name));
      await lock.unlock();
      await session.close();
      return keys;
    } finally {
      await store.close();
      await raw.close();
    }
  }

  it('keep their keys under tenure/ by default, not at the root of a shared etcd', async () => {
    const keys = await lockKeys('etcd://HOSTS', 'ns-default');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^tenure\/mutex\/ns-default\//);
  });

  it('take another namespace with ?namespace=, and none with an empty ?namespace=', async () => {
    expect(await lockKeys('etcd://HOSTS?namespace=billing/', 'ns-other')).toEqual([
      expect.stringMatching(/^billing\/mutex\/ns-other\//),
    ]);
    expect(await lockKeys('etcd://HOSTS?namespace=', 'ns-root')).toEqual([
      expect.stringMatching(/^mutex\/ns-root\//),
    ]);
  });
});

recipeSuite('etcd', {
  open: async () => new EtcdStore({ endpoints: (await started).endpoints }),
  ttlMs: 2000,
  cleanup: async () => (await started).stop(),
});
