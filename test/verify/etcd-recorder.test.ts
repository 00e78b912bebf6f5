/**
 * A history recorded from a real 3-member etcd cluster (started here) under a concurrent register
 * workload, with the leader SIGKILLed and restarted midway, is linearizable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/store/etcd/index.js';
import {
  History,
  RecordingStore,
  checkLinearizability,
  keyValueOperations,
  runRegisterWorkload,
} from '../../src/verify/index.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

let cluster: EtcdCluster;
beforeAll(async () => {
  cluster = await EtcdCluster.start({ size: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

describe('recorded histories: etcd', () => {
  it('4 clients on different members, the leader killed and restarted midway: linearizable', async () => {
    const history = new History();
    const endpoints = cluster.endpoints;
    const stores = [0, 1, 2, 3].map(
      (i) =>
        new EtcdStore({
          endpoints: [...endpoints.slice(i % 3), ...endpoints.slice(0, i % 3)],
          requestTimeoutMs: 2000,
        }),
    );
    try {
      const runs = stores.map((store, i) =>
        runRegisterWorkload(new RecordingStore(store, { history, process: i }), {
          operations: 150,
          seed: i + 1,
          client: String(i),
        }),
      );
      // The fault: once the clients are under way, kill the leader, then bring it back.
      while (history.events.length < 200) await new Promise((r) => setTimeout(r, 10));
      const leader = await cluster.leader();
      await cluster.kill(leader);
      await new Promise((r) => setTimeout(r, 500));
      await cluster.restart(leader);
      const stats = await Promise.all(runs);
      expect(stats.reduce((n, s) => n + s.operations, 0)).toBe(600);
      const { operations } = keyValueOperations(history);
      expect(operations.length).toBe(600);
      const r = checkLinearizability(operations);
      expect(r.violation?.text).toBeUndefined();
      expect(r.verdict).toBe('linearizable');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
