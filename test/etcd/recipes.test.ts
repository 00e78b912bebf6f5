/** The recipe suite (sessions, elections, locks, ...) on a real 3-member etcd cluster. */
import { EtcdStore } from '../../src/store/etcd/index.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { recipeSuite } from '../recipes/suite.js';

const started = EtcdCluster.start();
started.catch(() => undefined);

recipeSuite('etcd', {
  open: async () => new EtcdStore({ endpoints: (await started).endpoints }),
  ttlMs: 2000,
  cleanup: async () => (await started).stop(),
});
