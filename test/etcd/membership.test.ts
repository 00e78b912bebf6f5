/** The membership suite on a real 3-member etcd cluster. */
import { EtcdStore } from '../../src/store/etcd/index.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { membershipSuite } from '../shards/membership-suite.js';

const started = EtcdCluster.start();
started.catch(() => undefined);

membershipSuite(
  'etcd',
  async () => new EtcdStore({ endpoints: (await started).endpoints }),
  2000,
  () => void started.then((cluster) => cluster.stop()),
);
