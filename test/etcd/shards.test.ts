/** The multi-process shard suite on a real 3-member etcd cluster (ttl 2 s, etcd's minimum). */
import { EtcdStore } from '../../src/store/etcd/index.js';
import { withNamespace } from '../../src/store/namespace.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { shardProcessSuite } from '../shards/shards-process-suite.js';

const started = EtcdCluster.start();
started.catch(() => undefined);
const stores: EtcdStore[] = [];

shardProcessSuite(
  'etcd',
  2000,
  async (n) => {
    const cluster = await started;
    const namespace = `shards-${n}/`;
    const store = new EtcdStore({ endpoints: cluster.endpoints });
    stores.push(store);
    return {
      url: `etcd://${cluster.endpoints.join(',')}?namespace=${namespace}`,
      store: withNamespace(store, namespace),
    };
  },
  async () => {
    for (const s of stores) await s.close();
    await (await started).stop();
  },
);
