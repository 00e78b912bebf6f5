/**
 * The `txn` function (transactions that may write) evaluates compares and the newest-first read of
 * a prefix (a queue's read) in its own body, while `read` (transactions of gets only) calls the
 * `compare` and `get` functions. Both paths must give the same answers: every compare target and
 * operator, on a present and a missing key, and prefix reads in every order, with limits and a
 * maximum create revision, are run through both and compared with the expected answer. The
 * control breaks one operator of txn's compare in the database and must see the check fail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Compare, GetOp, Store } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';

const started = PostgresServer.start();
started.catch(() => undefined);
afterAll(async () => {
  await (await started).stop();
});

async function fresh(prefix: string) {
  const server = await started;
  const database = await server.createDatabase(prefix);
  const store = await PostgresStore.open({
    port: server.port,
    user: PG_USER,
    password: PG_PASSWORD,
    database,
  });
  return { server, database, store };
}

/** Compares with their expected answer, on key `k` (value 'v', leased, written at `rev`) and a missing key. */
function cases(k: string, m: string, rev: number, lease: string): [Compare, boolean][] {
  const ops = ['=', '!=', '<', '>'] as const;
  const expectFor = (d: number) => ({ '=': d === 0, '!=': d !== 0, '<': d < 0, '>': d > 0 });
  const out: [Compare, boolean][] = [];
  for (const op of ops) {
    // d: the stored value's order against the compared one.
    for (const [value, d] of [
      [rev - 1, 1],
      [rev, 0],
      [rev + 1, -1],
    ] as const) {
      out.push([{ key: k, target: 'createRevision', op, value }, expectFor(d)[op]]);
      out.push([{ key: k, target: 'modRevision', op, value }, expectFor(d)[op]]);
    }
    for (const [value, d] of [
      [0, 1],
      [1, 0],
      [2, -1],
    ] as const) {
      out.push([{ key: k, target: 'version', op, value }, expectFor(d)[op]]);
      out.push([{ key: m, target: 'version', op, value }, expectFor(-value)[op]]);
      out.push([{ key: m, target: 'createRevision', op, value }, expectFor(-value)[op]]);
      out.push([{ key: m, target: 'modRevision', op, value }, expectFor(-value)[op]]);
    }
    for (const [value, d] of [
      ['u', 1],
      ['v', 0],
      ['w', -1],
    ] as const) {
      out.push([{ key: k, target: 'value', op, value }, expectFor(d)[op]]);
      out.push([{ key: m, target: 'value', op, value }, false]);
    }
  }
  // Lease: equal or not (etcd compares a lease for equality only; other operators say "not equal").
  out.push([{ key: k, target: 'lease', op: '=', value: lease }, true]);
  out.push([{ key: k, target: 'lease', op: '!=', value: lease }, false]);
  out.push([{ key: k, target: 'lease', op: '=', value: null }, false]);
  out.push([{ key: m, target: 'lease', op: '=', value: null }, true]);
  out.push([{ key: m, target: 'lease', op: '!=', value: lease }, true]);
  return out;
}

/** The answers that differ from the expected one, through the read path and the write path. */
async function mismatches(store: Store, p: string, list: [Compare, boolean][]): Promise<string[]> {
  const wrong: string[] = [];
  for (const [compare, expected] of list) {
    const read = (await store.txn({ compare: [compare] })).succeeded;
    const write = (
      await store.txn({ compare: [compare], success: [{ type: 'put', key: `${p}scratch`, value: 'x' }] })
    ).succeeded;
    if (read !== expected) wrong.push(`read ${JSON.stringify(compare)}: ${read}`);
    if (write !== expected) wrong.push(`txn ${JSON.stringify(compare)}: ${write}`);
  }
  return wrong;
}

async function seeded(store: Store, p: string) {
  const lease = await store.grant(60_000);
  const rev = await store.put(`${p}k`, 'v', { lease: lease.id });
  return cases(`${p}k`, `${p}missing`, rev, lease.id);
}

describe('the write path and the read path agree', () => {
  it('on every compare target and operator, for a present and a missing key', async () => {
    const { store } = await fresh('paths_cmp');
    try {
      expect(await mismatches(store, 'a/', await seeded(store, 'a/'))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('on prefix reads in every order, with limits and a maximum create revision', async () => {
    const { store } = await fresh('paths_get');
    try {
      const revs: number[] = [];
      for (const key of ['q/c', 'q/a', 'q/b', 'q/d', 'qz', 'p/x']) revs.push(await store.put(key, key));
      const reads: GetOp[] = [];
      for (const order of ['key', 'createRevision', 'createRevisionDescending'] as const)
        for (const limit of [undefined, 1, 2, 4, 10])
          for (const maxCreateRevision of [undefined, revs[2]!, revs[0]! - 1])
            for (const key of ['q/', 'q', ''])
              reads.push({ type: 'get', key, prefix: true, order, limit, maxCreateRevision });
      for (const get of reads) {
        const read = await store.txn({ success: [get] });
        const write = await store.txn({ success: [get, { type: 'put', key: 'scratch', value: 'x' }] });
        expect(write.results[0], JSON.stringify(get)).toEqual(read.results[0]);
      }
      // The reads are not all alike: the check compares answers that differ.
      const newest = await store.txn({
        success: [
          { type: 'get', key: 'q/', prefix: true, order: 'createRevisionDescending', limit: 2 },
          { type: 'put', key: 'scratch', value: 'x' },
        ],
      });
      const first = newest.results[0];
      expect(first?.type === 'get' && first.kvs.map((kv) => kv.key)).toEqual(['q/d', 'q/b']);
      expect(first?.type === 'get' && first.more).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('negative control: txn with one operator broken in the database disagrees', async () => {
    const { server, database, store } = await fresh('paths_ctl');
    try {
      const [row] = await server.sql<{ def: string }>(
        database,
        "SELECT pg_get_functiondef('tenure.txn(jsonb)'::regprocedure) AS def",
      );
      const def = row!.def;
      const broken = def.replace("WHEN '<' THEN dif < 0", "WHEN '<' THEN dif > 0");
      expect(broken).not.toBe(def);
      await server.sql(database, broken);
      const wrong = await mismatches(store, 'a/', await seeded(store, 'a/'));
      expect(wrong.length).toBeGreaterThan(0);
      expect(wrong.every((w) => w.startsWith('txn '))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
