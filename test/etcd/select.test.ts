/**
 * Gets by create revision (`maxCreateRevision`, `order`, `limit`) answered by etcd itself
 * (RangeRequest's max_create_revision, sort_target CREATE, sort_order): the same answers as a full
 * read selected the obvious way, including keys created in one transaction (ties, which etcd
 * leaves in no set order) and gets inside transactions that write; and only the keys asked for
 * cross the wire.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/store/etcd/index.js';
import type { GetOp, GetResult, KeyValue } from '../../src/store/types.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { numbered, putMany } from '../helpers/fill.js';

type Order = 'key' | 'createRevision' | 'createRevisionDescending';

/** The selection a get by create revision means, written the obvious way (keys in key order in). */
function naiveSelect(
  kvs: readonly KeyValue[],
  o: { maxCreateRevision?: number; order?: Order; limit: number },
): { kvs: KeyValue[]; more: boolean } {
  const out = kvs.filter(
    (kv) => o.maxCreateRevision === undefined || kv.createRevision <= o.maxCreateRevision,
  );
  const asc = (a: KeyValue, b: KeyValue) =>
    a.createRevision - b.createRevision || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key));
  if (o.order === 'createRevision') out.sort(asc);
  if (o.order === 'createRevisionDescending') out.sort((a, b) => asc(b, a));
  return { kvs: o.limit > 0 ? out.slice(0, o.limit) : out, more: o.limit > 0 && out.length > o.limit };
}

/** The bytes etcd has sent to clients so far (its own Prometheus counter). */
async function sentBytes(cluster: EtcdCluster): Promise<number> {
  const text = (await cluster.metrics(0)) ?? '';
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('etcd_network_client_grpc_sent_bytes_total')) sum += Number(line.split(' ').at(-1));
  return sum;
}

describe('EtcdStore: gets by create revision, answered by etcd', () => {
  let cluster: EtcdCluster;
  let store: EtcdStore;
  let n = 0;
  beforeAll(async () => {
    cluster = await EtcdCluster.start({ size: 1 });
    store = new EtcdStore({ endpoints: cluster.endpoints, requestTimeoutMs: 5000 });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
  });

  it('selects exactly as a full read would: ties, bounds, limits, and gets inside writing transactions (property)', async () => {
    const keys = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/b/1', 'a/b/2', 'a/b/3', 'a/', 'ab', 'b/1'];
    const prefixes = ['a/', 'a/b/', 'a', 'b/', 'c/', 'a/1'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ t: fc.constant('put' as const), key: fc.constantFrom(...keys) }),
            fc.record({ t: fc.constant('del' as const), key: fc.constantFrom(...keys) }),
            // Several keys created in one revision: ties, ordered by key (reversed when descending).
            fc.record({
              t: fc.constant('many' as const),
              keys: fc.uniqueArray(fc.constantFrom(...keys), { minLength: 3, maxLength: 8 }),
            }),
          ),
          { maxLength: 30 },
        ),
        fc.array(
          fc.record({
            prefix: fc.constantFrom(...prefixes),
            max: fc.option(fc.integer({ min: 0, max: 35 }), { nil: undefined }),
            order: fc.constantFrom(
              'key' as const,
              'createRevision' as const,
              'createRevisionDescending' as const,
            ),
            limit: fc.integer({ min: 0, max: 6 }),
            // Where the get runs: alone, in a read-only txn, after a write in the same txn, or
            // before a write of its own range in the same txn.
            serializable: fc.boolean(),
            how: fc.constantFrom(
              'range' as const,
              'txn' as const,
              'after-put' as const,
              'before-put' as const,
            ),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (ops, queries) => {
          const p = `s${++n}/`;
          const base = await store.revision();
          for (const op of ops) {
            if (op.t === 'put') await store.put(p + op.key, 'v');
            else if (op.t === 'del') await store.delete(p + op.key);
            else await store.txn({ success: op.keys.map((k) => ({ type: 'put', key: p + k, value: 'w' })) });
          }
          for (const q of queries) {
            // Revisions are relative to this run's start, so bounds cut into its history.
            const max = q.max === undefined ? undefined : q.max === 0 ? 0 : base + q.max;
            const options = { maxCreateRevision: max, order: q.order, limit: q.limit };
            const get: GetOp = {
              type: 'get',
              key: p + q.prefix,
              prefix: true,
              serializable: q.serializable,
              ...options,
            };
            let got: { kvs: readonly KeyValue[]; more: boolean };
            let want: { kvs: KeyValue[]; more: boolean };
            if (q.how === 'range') {
              want = naiveSelect((await store.range(p + q.prefix)).kvs, options);
              got = await store.range(p + q.prefix, { ...options, serializable: q.serializable });
            } else if (q.how === 'txn') {
              want = naiveSelect((await store.range(p + q.prefix)).kvs, options);
              const res = await store.txn({ success: [{ type: 'get', key: `${p}zz` }, get] });
              got = res.results[1] as GetResult;
            } else if (q.how === 'after-put') {
              const res = await store.txn({
                success: [{ type: 'put', key: `${p}${q.prefix}x`, value: 'n' }, get],
              });
              // The get saw the state after the put, which nothing has changed since.
              want = naiveSelect((await store.range(p + q.prefix)).kvs, options);
              got = res.results[1] as GetResult;
            } else {
              want = naiveSelect((await store.range(p + q.prefix)).kvs, options);
              // A later write of the get's own range: the get must not see it.
              const res = await store.txn({
                success: [get, { type: 'delete', key: p + q.prefix, prefix: true }],
              });
              got = res.results[0] as GetResult;
            }
            expect(got.kvs.map((kv) => [kv.key, kv.createRevision])).toEqual(
              want.kvs.map((kv) => [kv.key, kv.createRevision]),
            );
            expect(got.more).toBe(want.more);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("reads only the entry ahead from the wire, not the whole queue (a lock waiter's read)", async () => {
    const p = `q${++n}/`;
    // 2,000 queue entries of 100-byte values: a whole read is over 200 KB.
    await putMany(store, 2000, numbered(p));
    const value = 'x'.repeat(100);
    const last = (await store.get(`${p}01999`))!;
    const before = await sentBytes(cluster);
    // The entry just ahead of the newest one: it and nothing else.
    const { kvs, more } = await store.range(p, {
      maxCreateRevision: last.createRevision - 1,
      order: 'createRevisionDescending',
      limit: 1,
    });
    const sent = (await sentBytes(cluster)) - before;
    // The ties of the 100-key transaction ahead are read in full (100 keys) to order them by key.
    expect(kvs.map((kv) => kv.key)).toEqual([`${p}01899`]);
    expect(more).toBe(true);
    // Before etcd answered these reads itself, the whole prefix crossed the wire (> 200 KB).
    expect(sent).toBeLessThan(40_000);
    // A key created alone: one key (and the extra one) cross the wire.
    await store.put(`${p}99999`, value);
    const alone = (await store.get(`${p}99999`))!;
    await store.put(`${p}99999x`, value);
    const before2 = await sentBytes(cluster);
    const ahead = await store.range(p, {
      maxCreateRevision: alone.createRevision,
      order: 'createRevisionDescending',
      limit: 1,
    });
    const sent2 = (await sentBytes(cluster)) - before2;
    expect(ahead.kvs.map((kv) => kv.key)).toEqual([`${p}99999`]);
    expect(sent2).toBeLessThan(2_000);
  });
});
