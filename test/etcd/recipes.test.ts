/** The recipe suite (sessions, elections, locks, ...) on a real 3-member etcd cluster. */
import { describe, expect, it } from 'vitest';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
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

describe('a lost reply on etcd', () => {
  it('Mutex.lock and Election.campaign adopt the key their lost write created (etcd applies the retry as a read)', async () => {
    const { endpoints } = await started;
    const store = new EtcdStore({ endpoints });
    // The txn reaches etcd and is applied; its reply is lost (as in a leader change).
    const txn = store.txn.bind(store);
    let lose = 0;
    store.txn = async (req) => {
      const res = await txn(req);
      if (req.success?.[0]?.type === 'put' && req.success[1]?.type === 'get' && lose > 0) {
        lose--;
        throw new TenureError('TENURE_UNAVAILABLE', 'etcd KV.Txn failed: context deadline exceeded');
      }
      return res;
    };
    try {
      const session = await Session.create(store, { ttlMs: 2000 });
      lose = 2;
      const lock = await new Mutex(session, 'lost-reply').lock({ timeoutMs: 10_000 });
      const keys = (await store.range('mutex/lost-reply/')).kvs;
      expect(keys.map((kv) => kv.key)).toEqual([lock.key]);
      expect(lock.fencingToken).toBe(keys[0]!.createRevision);
      await lock.unlock();
      lose = 1;
      const leadership = await new Election(session, 'lost-reply').campaign('me', { timeoutMs: 10_000 });
      const candidates = (await store.range('election/lost-reply/')).kvs;
      expect(candidates.map((kv) => [kv.key, kv.createRevision])).toEqual([
        [leadership.key, leadership.term],
      ]);
      await leadership.resign();
      await session.close();
    } finally {
      await store.close();
    }
  });
});

recipeSuite('etcd', {
  open: async () => new EtcdStore({ endpoints: (await started).endpoints }),
  ttlMs: 2000,
  cleanup: async () => (await started).stop(),
});
