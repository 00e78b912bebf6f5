/**
 * The conformance suite: every backend runs exactly these tests. A backend passes the Store
 * contract when it passes this file.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withNamespace } from '../../src/store/namespace.js';
import type { TenureError } from '../../src/errors.js';
import { followOn } from '../../src/store/follow.js';
import type { FollowOptions, KeyValue, Store, WatchBatch, WatchEvent } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';

/** How a backend is plugged into the suite. */
export interface StoreHarness {
  /** Opens a store on fresh, empty storage. */
  open(): Promise<Store>;
  /** Lets `ms` of the store's lease clock pass (a driven clock, or real time). */
  advance(ms: number): Promise<void>;
  /** Whether `advance` is real time (then expiry is checked by polling, with bounds). */
  realTime: boolean;
  /** A ttl short enough for tests and at least the backend's minimum. */
  ttlMs: number;
  /** Runs of each property test. */
  propertyRuns: number;
  /** Releases temp files, servers. */
  cleanup?(): Promise<void>;
}

const text = (kv: KeyValue | undefined) =>
  kv === undefined ? undefined : Buffer.from(kv.value).toString('utf8');
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Collects watch events until one batch reaches `untilRevision`. */
async function collect(
  iterable: AsyncIterable<WatchBatch>,
  untilRevision: number,
  timeoutMs = 5000,
): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  if (untilRevision <= 0) return events;
  const it = iterable[Symbol.asyncIterator]();
  const deadline = sleep(timeoutMs).then(() => 'timeout' as const);
  try {
    for (;;) {
      const next = await Promise.race([it.next(), deadline]);
      if (next === 'timeout')
        throw new Error(`watch did not reach revision ${untilRevision} in ${timeoutMs} ms`);
      if (next.done) return events;
      let last = 0;
      for (const e of next.value.events) {
        expect(e.kv.modRevision).toBeGreaterThanOrEqual(last);
        last = e.kv.modRevision;
        events.push(e);
      }
      expect(next.value.revision).toBeGreaterThanOrEqual(last);
      if (last >= untilRevision || next.value.revision >= untilRevision) return events;
    }
  } finally {
    await it.return?.();
  }
}

/** Follows `key` into arrays; `until(rev)` waits for a batch at or past `rev`. */
function following(s: Store, key: string, options: FollowOptions) {
  const batches: WatchBatch[] = [];
  const errors: unknown[] = [];
  let inFollow = true;
  let calledInside = false;
  const stop = followOn(s, key, options, {
    batch: (b) => {
      calledInside ||= inFollow;
      batches.push(b);
    },
    error: (err) => {
      calledInside ||= inFollow;
      errors.push(err);
    },
  });
  inFollow = false;
  const events = () => batches.flatMap((b) => b.events);
  const until = (rev: number) =>
    eventually(() => batches.some((b) => b.revision >= rev) || events().some((e) => e.kv.modRevision >= rev));
  return { batches, errors, events, stop, until, calledInside: () => calledInside };
}

export function conformance(name: string, harness: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let n = 0;
    /** A key prefix no other test uses. */
    const fresh = () => `t${++n}/`;
    /**
     * Writes `count` revisions under `p`: puts of `k<i>`, and every `every`-th a delete of the key
     * put just before. Returns the first and last revision written.
     */
    const writeHistory = async (p: string, count: number, every: number) => {
      const start = (await store.revision()) + 1;
      for (let i = 0; i < count; i++) {
        if (i % every === every - 1) await store.delete(`${p}k${i - 1}`);
        else await store.put(`${p}k${i}`, `v${i}`);
      }
      return { start, end: await store.revision() };
    };

    beforeAll(async () => {
      store = await harness.open();
    });
    afterAll(async () => {
      await store?.close();
      await harness.cleanup?.();
    });

    describe('keys and revisions', () => {
      it('put records createRevision, modRevision, version and lease', async () => {
        const p = fresh();
        const r1 = await store.put(`${p}a`, 'one');
        let kv = await store.get(`${p}a`);
        expect(kv).toMatchObject({
          key: `${p}a`,
          createRevision: r1,
          modRevision: r1,
          version: 1,
          lease: null,
        });
        expect(text(kv)).toBe('one');
        const r2 = await store.put(`${p}a`, new Uint8Array([0, 255]));
        kv = await store.get(`${p}a`);
        expect(r2).toBe(r1 + 1);
        expect(kv).toMatchObject({ createRevision: r1, modRevision: r2, version: 2 });
        expect([...kv!.value]).toEqual([0, 255]);
        expect(await store.get(`${p}missing`)).toBeUndefined();
      });

      it('the revision rises by exactly one per transaction that writes, and not for reads or no-op deletes', async () => {
        const p = fresh();
        const r0 = await store.revision();
        const res = await store.txn({
          success: [
            { type: 'put', key: `${p}a`, value: '1' },
            { type: 'put', key: `${p}b`, value: '2' },
          ],
        });
        expect(res.revision).toBe(r0 + 1);
        await store.get(`${p}a`);
        await store.range(p);
        expect(await store.delete(`${p}nothing`)).toBe(0);
        expect(await store.revision()).toBe(r0 + 1);
        const a = await store.get(`${p}a`);
        const b = await store.get(`${p}b`);
        expect(a!.modRevision).toBe(r0 + 1);
        expect(b!.modRevision).toBe(r0 + 1);
      });

      it('range returns keys with the prefix in UTF-8 byte order, honouring limit', async () => {
        const p = fresh();
        const keys = ['b', 'a', 'a/1', 'a/0', '\u{1F600}', '\uFFFD', 'é', 'z'];
        for (const k of keys) await store.put(p + k, k);
        await store.put(`${p.slice(0, -1)}0`, 'outside'); // sorts just after the prefix
        const all = await store.range(p);
        expect(all.kvs.map((kv) => kv.key.slice(p.length))).toEqual([...keys].sort(utf8Order));
        expect(all.more).toBe(false);
        const limited = await store.range(`${p}a`, { limit: 2 });
        expect(limited.kvs.map((kv) => kv.key)).toEqual([`${p}a`, `${p}a/0`]);
        expect(limited.more).toBe(true);
        const exact = await store.range(`${p}a`, { limit: 3 });
        expect(exact.more).toBe(false);
      });

      it('a serializable range sees at least what this client wrote before it, at its own revision', async () => {
        const p = fresh();
        const rev = await store.put(`${p}a`, '1');
        let read = await store.range(p, { serializable: true });
        // A cluster member may lag for a moment; it must catch up, and never invent state.
        for (let i = 0; i < 50 && read.revision < rev; i++) {
          await sleep(10);
          read = await store.range(p, { serializable: true });
        }
        expect(read.revision).toBeGreaterThanOrEqual(rev);
        expect(read.kvs.map((kv) => [kv.key, text(kv)])).toEqual([[`${p}a`, '1']]);
      });

      it('delete by prefix removes exactly the keys with the prefix, in one revision', async () => {
        const p = fresh();
        await store.put(`${p}x/1`, '1');
        await store.put(`${p}x/2`, '2');
        await store.put(`${p}y`, '3');
        const before = await store.revision();
        expect(await store.delete(`${p}x/`, { prefix: true })).toBe(2);
        expect(await store.revision()).toBe(before + 1);
        expect((await store.range(p)).kvs.map((kv) => kv.key)).toEqual([`${p}y`]);
      });
    });

    describe('transactions', () => {
      it('compares on value, version, createRevision, modRevision and lease, with missing-key semantics', async () => {
        const p = fresh();
        const lease = await store.grant(60_000);
        const rev = await store.put(`${p}k`, 'v', { lease: lease.id });
        const holds = async (compare: Parameters<Store['txn']>[0]['compare']) =>
          (await store.txn({ compare })).succeeded;
        const k = `${p}k`;
        const m = `${p}missing`;
        expect(await holds([{ key: k, target: 'value', op: '=', value: 'v' }])).toBe(true);
        expect(await holds([{ key: k, target: 'value', op: '>', value: 'u' }])).toBe(true);
        expect(await holds([{ key: k, target: 'value', op: '<', value: 'u' }])).toBe(false);
        expect(await holds([{ key: k, target: 'value', op: '!=', value: 'v' }])).toBe(false);
        expect(await holds([{ key: k, target: 'version', op: '=', value: 1 }])).toBe(true);
        expect(await holds([{ key: k, target: 'createRevision', op: '=', value: rev }])).toBe(true);
        expect(await holds([{ key: k, target: 'modRevision', op: '<', value: rev }])).toBe(false);
        expect(await holds([{ key: k, target: 'lease', op: '=', value: lease.id }])).toBe(true);
        expect(await holds([{ key: k, target: 'lease', op: '=', value: null }])).toBe(false);
        expect(await holds([{ key: m, target: 'version', op: '=', value: 0 }])).toBe(true);
        expect(await holds([{ key: m, target: 'createRevision', op: '=', value: 0 }])).toBe(true);
        expect(await holds([{ key: m, target: 'lease', op: '=', value: null }])).toBe(true);
        expect(await holds([{ key: m, target: 'value', op: '=', value: '' }])).toBe(false);
        expect(await holds([{ key: m, target: 'value', op: '!=', value: 'x' }])).toBe(false);
        // Every compare must hold.
        expect(
          await holds([
            { key: k, target: 'version', op: '=', value: 1 },
            { key: m, target: 'version', op: '>', value: 0 },
          ]),
        ).toBe(false);
        await store.revoke(lease.id);
      });

      it('runs the success branch or the failure branch, and gets see earlier writes of the same transaction', async () => {
        const p = fresh();
        const cas = (expectVersion: number, value: string) =>
          store.txn({
            compare: [{ key: `${p}c`, target: 'version', op: '=', value: expectVersion }],
            success: [
              { type: 'put', key: `${p}c`, value },
              { type: 'get', key: `${p}c` },
            ],
            failure: [{ type: 'get', key: `${p}c` }],
          });
        const first = await cas(0, 'a');
        expect(first.succeeded).toBe(true);
        expect(first.results[0]).toEqual({ type: 'put' });
        const seen = first.results[1];
        expect(seen?.type === 'get' && text(seen.kvs[0])).toBe('a');
        const lost = await cas(0, 'b');
        expect(lost.succeeded).toBe(false);
        expect(lost.revision).toBe(first.revision);
        const cur = lost.results[0];
        expect(cur?.type === 'get' && text(cur.kvs[0])).toBe('a');
      });

      it('is atomic: a put naming a dead lease fails the whole transaction and writes nothing', async () => {
        const p = fresh();
        const lease = await store.grant(60_000);
        await store.revoke(lease.id);
        const before = await store.revision();
        const code = await codeOf(
          store.txn({
            success: [
              { type: 'put', key: `${p}a`, value: '1' },
              { type: 'delete', key: `${p}b` },
              { type: 'put', key: `${p}c`, value: '2', lease: lease.id },
            ],
          }),
        );
        expect(code).toBe('TENURE_LEASE_NOT_FOUND');
        expect(await store.revision()).toBe(before);
        expect(await store.get(`${p}a`)).toBeUndefined();
      });

      it('concurrent compare-and-swap increments lose no update', async () => {
        const p = fresh();
        await store.put(`${p}n`, '0');
        const increment = async () => {
          for (;;) {
            const kv = (await store.get(`${p}n`))!;
            const res = await store.txn({
              compare: [{ key: `${p}n`, target: 'modRevision', op: '=', value: kv.modRevision }],
              success: [{ type: 'put', key: `${p}n`, value: String(Number(text(kv)) + 1) }],
            });
            if (res.succeeded) return;
          }
        };
        await Promise.all(Array.from({ length: 20 }, increment));
        expect(text(await store.get(`${p}n`))).toBe('20');
      });
    });

    describe('leases', () => {
      it('grant, keepAlive and timeToLive report the ttl; keepAlive of a revoked lease is TENURE_LEASE_NOT_FOUND', async () => {
        const lease = await store.grant(harness.ttlMs);
        expect(lease.ttlMs).toBeGreaterThanOrEqual(harness.ttlMs);
        expect(lease.ttlMs % store.capabilities.ttlGranularityMs).toBe(0);
        expect(await store.keepAlive(lease.id)).toBe(lease.ttlMs);
        const left = await store.timeToLive(lease.id);
        expect(left).toBeGreaterThan(0);
        expect(left).toBeLessThanOrEqual(lease.ttlMs);
        await store.revoke(lease.id);
        expect(await store.timeToLive(lease.id)).toBeUndefined();
        expect(await codeOf(store.keepAlive(lease.id))).toBe('TENURE_LEASE_NOT_FOUND');
        await store.revoke(lease.id); // revoking a dead lease is a no-op
        expect(await codeOf(store.put(fresh() + 'x', 'v', { lease: lease.id }))).toBe(
          'TENURE_LEASE_NOT_FOUND',
        );
      });

      it('a ttl below the minimum is raised to it', async () => {
        const lease = await store.grant(1);
        expect(lease.ttlMs).toBe(Math.max(store.capabilities.minTtlMs, store.capabilities.ttlGranularityMs));
        await store.revoke(lease.id);
      });

      it('revoke deletes every attached key in one revision, with delete events', async () => {
        const p = fresh();
        const lease = await store.grant(60_000);
        await store.put(`${p}a`, '1', { lease: lease.id });
        await store.put(`${p}b`, '2', { lease: lease.id });
        await store.put(`${p}c`, '3');
        const from = (await store.revision()) + 1;
        const watch = store.watch(p, { prefix: true, fromRevision: from });
        await store.revoke(lease.id);
        const events = await collect(watch, from);
        expect(events.map((e) => [e.type, e.kv.key, e.kv.modRevision])).toEqual([
          ['delete', `${p}a`, from],
          ['delete', `${p}b`, from],
        ]);
        expect((await store.range(p)).kvs.map((kv) => kv.key)).toEqual([`${p}c`]);
      });

      it('a put moves a key from one lease to another, and to none', async () => {
        const p = fresh();
        const l1 = await store.grant(60_000);
        const l2 = await store.grant(60_000);
        await store.put(`${p}a`, '1', { lease: l1.id });
        await store.put(`${p}a`, '2', { lease: l2.id });
        await store.revoke(l1.id);
        expect((await store.get(`${p}a`))?.lease).toBe(l2.id);
        await store.put(`${p}a`, '3');
        await store.revoke(l2.id);
        expect(text(await store.get(`${p}a`))).toBe('3');
      });

      it('expiry: keys live at least ttl after the last keepalive was sent and are gone within the bound', async () => {
        const p = fresh();
        const ttl = harness.ttlMs;
        const lease = await store.grant(ttl);
        await store.put(`${p}a`, '1', { lease: lease.id });
        await harness.advance(ttl / 2);
        const sent = performance.now();
        await store.keepAlive(lease.id);
        const acked = performance.now();
        const from = (await store.revision()) + 1;
        if (!harness.realTime) {
          await harness.advance(ttl - 1);
          expect(await store.get(`${p}a`)).toBeDefined();
          await harness.advance(1 + store.capabilities.expiryBoundMs);
          expect(await store.get(`${p}a`)).toBeUndefined();
        } else {
          // Poll: the first read that misses the key must start no earlier than sent + ttl.
          let goneAt = 0;
          while (goneAt === 0) {
            const readStart = performance.now();
            if ((await store.get(`${p}a`)) === undefined) goneAt = readStart;
            else await sleep(5);
            if (readStart - acked > ttl * 3 + store.capabilities.expiryBoundMs + 2000)
              throw new Error('lease never expired');
          }
          expect(goneAt).toBeGreaterThanOrEqual(sent + ttl);
          // Scheduling on a loaded 2-core machine adds delay; allow 250 ms of it on top of the bound.
          expect(goneAt - acked).toBeLessThanOrEqual(ttl + store.capabilities.expiryBoundMs + 250);
        }
        expect(await store.timeToLive(lease.id)).toBeUndefined();
        expect(await codeOf(store.keepAlive(lease.id))).toBe('TENURE_LEASE_NOT_FOUND');
        const events = await collect(store.watch(`${p}a`, { fromRevision: from }), from);
        expect(events.map((e) => e.type)).toEqual(['delete']);
      });
    });

    describe('watch', () => {
      it('delivers every event exactly once, in revision order, from any retained revision', async () => {
        const p = fresh();
        const { start, end } = await writeHistory(p, 20, 5);
        for (const from of [start, start + 7, end]) {
          const events = await collect(store.watch(p, { prefix: true, fromRevision: from }), end);
          expect(events.map((e) => e.kv.modRevision)).toEqual(
            Array.from({ length: end - from + 1 }, (_, i) => from + i),
          );
        }
      });

      it('delivers changes made after it started, live', async () => {
        const p = fresh();
        const watch = store.watch(`${p}a`);
        const got = collect(watch, Number.MAX_SAFE_INTEGER, 3000).catch((e: unknown) => e);
        const it = watch[Symbol.asyncIterator]();
        const first = it.next();
        await sleep(20);
        const rev = await store.put(`${p}a`, 'live');
        await store.put(`${p}b`, 'other key');
        const batch = await first;
        expect(batch.done).toBe(false);
        expect(
          (batch.value as WatchBatch).events.map((e) => [e.type, e.kv.key, text(e.kv), e.kv.modRevision]),
        ).toEqual([['put', `${p}a`, 'live', rev]]);
        await it.return?.();
        void got;
      });

      it('an abort signal ends a waiting watch with TENURE_ABORTED, promptly', async () => {
        const ac = new AbortController();
        const it = store.watch(`${fresh()}a`, { signal: ac.signal })[Symbol.asyncIterator]();
        const next = it.next();
        setTimeout(() => ac.abort(new Error('shutting down')), 20);
        const t0 = performance.now();
        expect(await codeOf(next)).toBe('TENURE_ABORTED');
        expect(performance.now() - t0).toBeLessThan(1000);
      });

      it('watching compacted revisions fails with TENURE_COMPACTED', async () => {
        const p = fresh();
        const r1 = await store.put(`${p}a`, '1');
        const r2 = await store.put(`${p}a`, '2');
        await store.put(`${p}a`, '3');
        await store.compact(r2);
        expect(await codeOf(collect(store.watch(`${p}a`, { fromRevision: r1 }), r2))).toBe(
          'TENURE_COMPACTED',
        );
        expect(await codeOf(collect(store.watch(`${p}a`, { fromRevision: r2 }), r2))).toBe(
          'TENURE_COMPACTED',
        );
        const events = await collect(store.watch(`${p}a`, { fromRevision: r2 + 1 }), r2 + 1);
        expect(events.map((e) => text(e.kv))).toEqual(['3']);
      });

      it('matches a reference model: random histories, watched from random revisions (property)', async () => {
        const keys = ['a', 'ab', 'a/1', 'b', 'é', '\u{1F600}', '\uFFFD'];
        const key = fc.constantFrom(...keys);
        const op = fc.oneof(
          fc.record({ t: fc.constant('put' as const), key, value: fc.string({ maxLength: 4 }) }),
          fc.record({ t: fc.constant('del' as const), key }),
          fc.record({ t: fc.constant('delp' as const), key: fc.constantFrom('a', 'b', '') }),
          fc.record({
            t: fc.constant('cas' as const),
            key,
            version: fc.nat(3),
            value: fc.string({ maxLength: 4 }),
          }),
        );
        await fc.assert(
          fc.asyncProperty(
            fc.array(op, { minLength: 1, maxLength: 25 }),
            fc.nat(),
            fc.constantFrom('', 'a', 'b', 'ab', 'é'),
            fc.boolean(),
            async (ops, fromPick, selector, prefix) => {
              if (!prefix && selector === '') prefix = true;
              const p = fresh();
              const base = await store.revision();
              const model = new Map<string, { value: string; create: number; version: number }>();
              const log: {
                rev: number;
                type: 'put' | 'delete';
                key: string;
                value: string;
                create: number;
                version: number;
              }[] = [];
              let rev = base;
              const put = (k: string, value: string) => {
                const prev = model.get(k);
                rev += 1;
                const entry = { value, create: prev?.create ?? rev, version: (prev?.version ?? 0) + 1 };
                model.set(k, entry);
                log.push({ rev, type: 'put', key: k, value, create: entry.create, version: entry.version });
              };
              for (const o of ops) {
                if (o.t === 'put') {
                  await store.put(p + o.key, o.value);
                  put(o.key, o.value);
                } else if (o.t === 'del') {
                  await store.delete(p + o.key);
                  if (model.delete(o.key))
                    log.push({ rev: ++rev, type: 'delete', key: o.key, value: '', create: 0, version: 0 });
                } else if (o.t === 'delp') {
                  await store.delete(p + o.key, { prefix: true });
                  const gone = [...model.keys()].filter((k) => k.startsWith(o.key)).sort(utf8Order);
                  if (gone.length > 0) rev += 1;
                  for (const k of gone) {
                    model.delete(k);
                    log.push({ rev, type: 'delete', key: k, value: '', create: 0, version: 0 });
                  }
                } else {
                  const res = await store.txn({
                    compare: [{ key: p + o.key, target: 'version', op: '=', value: o.version }],
                    success: [{ type: 'put', key: p + o.key, value: o.value }],
                  });
                  const holds = (model.get(o.key)?.version ?? 0) === o.version;
                  expect(res.succeeded).toBe(holds);
                  if (holds) put(o.key, o.value);
                }
              }
              // A final write that every selector sees, so the watch below has a last event to wait for.
              await store.put(p + selector, 'END');
              put(selector, 'END');
              expect(await store.revision()).toBe(rev);
              const ranged = await store.range(p);
              expect(
                ranged.kvs.map((kv) => [kv.key.slice(p.length), text(kv), kv.version, kv.createRevision]),
              ).toEqual(
                [...model.entries()]
                  .sort(([a], [b]) => utf8Order(a, b))
                  .map(([k, e]) => [k, e.value, e.version, e.create]),
              );
              const from = base + 1 + (fromPick % (rev - base));
              const expected = log
                .filter((e) => e.rev >= from && (prefix ? e.key.startsWith(selector) : e.key === selector))
                .map((e) => [e.type, p + e.key, e.value, e.rev, e.create, e.version]);
              const got = await collect(store.watch(p + selector, { prefix, fromRevision: from }), rev);
              expect(
                got.map((e) => [
                  e.type,
                  e.kv.key,
                  text(e.kv),
                  e.kv.modRevision,
                  e.kv.createRevision,
                  e.kv.version,
                ]),
              ).toEqual(expected);
            },
          ),
          { numRuns: harness.propertyRuns },
        );
      });
    });

    describe('follow', () => {
      it('delivers what a watch of the same key and options yields, and nothing after it is stopped', async () => {
        const p = fresh();
        const { start, end } = await writeHistory(p, 12, 4);
        const f = following(store, p, { prefix: true, fromRevision: start });
        const watched = await collect(store.watch(p, { prefix: true, fromRevision: start }), end);
        await f.until(end);
        const shape = (e: WatchEvent) => [e.type, e.kv.key, text(e.kv), e.kv.modRevision];
        expect(f.events().map(shape)).toEqual(watched.map(shape));
        // Live: a later write arrives (so the silence below is the stop, not a dead follow).
        const live = await store.put(`${p}live`, 'x');
        await f.until(live);
        expect(f.events().at(-1)?.kv.modRevision).toBe(live);
        f.stop();
        f.stop();
        const seen = f.batches.length;
        await store.put(`${p}after`, 'y');
        await sleep(150);
        expect(f.batches.length).toBe(seen);
        expect(f.errors).toEqual([]);
        expect(f.calledInside()).toBe(false);
      });

      it('a compacted start ends it once with TENURE_COMPACTED', async () => {
        const p = fresh();
        const r1 = await store.put(`${p}a`, '1');
        await store.put(`${p}a`, '2');
        await store.compact(r1 + 1);
        const f = following(store, `${p}a`, { fromRevision: r1 });
        await eventually(() => f.errors.length > 0);
        await sleep(50);
        expect(f.errors.map((e) => (e as TenureError).code)).toEqual(['TENURE_COMPACTED']);
        expect(f.batches).toEqual([]);
        expect(f.calledInside()).toBe(false);
      });

      it('closing the store ends every follow once with TENURE_CLOSED; a closed store refuses to follow', async () => {
        const s = await harness.open();
        const a = following(s, 'f/a', {});
        const b = following(s, 'f/', { prefix: true });
        await sleep(10);
        await s.close();
        await eventually(() => a.errors.length > 0 && b.errors.length > 0);
        await sleep(50);
        for (const f of [a, b])
          expect(f.errors.map((e) => (e as TenureError).code)).toEqual(['TENURE_CLOSED']);
        expect(await codeOf(async () => followOn(s, 'f/a', {}, { batch() {}, error() {} }))).toBe(
          'TENURE_CLOSED',
        );
      });

      it('rejects a bad listener or key at once with TENURE_INVALID_ARGUMENT', async () => {
        // Optional in the contract; every store tenure ships has its own.
        const follow = store.follow?.bind(store);
        expect(follow).toBeTypeOf('function');
        for (const listener of [null, {}, { batch() {} }, { batch: 1, error() {} }])
          expect(await codeOf(async () => follow!('k', {}, listener as never))).toBe(
            'TENURE_INVALID_ARGUMENT',
          );
        expect(await codeOf(async () => followOn(store, '', {}, { batch() {}, error() {} }))).toBe(
          'TENURE_INVALID_ARGUMENT',
        );
      });
    });

    describe('namespaces', () => {
      it('two namespaces over one store never see each other', async () => {
        const p = fresh();
        const a = withNamespace(store, `${p}app-a/`);
        const b = withNamespace(store, `${p}app-b/`);
        await a.put('leader', 'A');
        await b.put('leader', 'B');
        const from = (await store.revision()) + 1;
        const watchA = a.watch('', { prefix: true, fromRevision: from });
        await b.put('x', 'B2');
        await b.delete('', { prefix: true });
        await a.put('y', 'A2');
        expect(text(await a.get('leader'))).toBe('A');
        expect((await a.range('')).kvs.map((kv) => kv.key)).toEqual(['leader', 'y']);
        expect((await b.range('')).kvs).toEqual([]);
        const events = await collect(watchA, await store.revision());
        expect(events.map((e) => [e.type, e.kv.key])).toEqual([['put', 'y']]);
        const followA = following(a, '', { prefix: true, fromRevision: from });
        await followA.until(await store.revision());
        expect(followA.events().map((e) => [e.type, e.kv.key])).toEqual([['put', 'y']]);
        followA.stop();
        const t = await a.txn({
          compare: [{ key: 'leader', target: 'value', op: '=', value: 'A' }],
          success: [{ type: 'get', key: '', prefix: true }],
        });
        const r = t.results[0];
        expect(r?.type === 'get' && r.kvs.map((kv) => kv.key)).toEqual(['leader', 'y']);
        expect(text(await store.get(`${p}app-a/leader`))).toBe('A');
      });
    });

    describe('bad input', () => {
      const bad: [string, (s: Store) => unknown][] = [
        ['empty key', (s) => s.get('')],
        ['non-string key', (s) => s.get(42 as unknown as string)],
        ['lone surrogate key', (s) => s.put('\uD800', 'v')],
        ['oversized key', (s) => s.put('k'.repeat(s.capabilities.maxKeyBytes + 1), 'v')],
        ['oversized value', (s) => s.put('k', new Uint8Array(s.capabilities.maxValueBytes + 1))],
        ['non-bytes value', (s) => s.put('k', 5 as unknown as string)],
        ['zero ttl', (s) => s.grant(0)],
        ['negative ttl', (s) => s.grant(-5)],
        ['NaN ttl', (s) => s.grant(Number.NaN)],
        ['infinite ttl', (s) => s.grant(Number.POSITIVE_INFINITY)],
        ['malformed lease id', (s) => s.keepAlive('not-a-lease')],
        ['malformed lease on put', (s) => s.put('k', 'v', { lease: 7 as unknown as string })],
        ['negative limit', (s) => s.range('a', { limit: -1 })],
        ['non-boolean serializable', (s) => s.range('a', { serializable: 'yes' as unknown as boolean })],
        [
          'a key written twice in one transaction',
          (s) =>
            s.txn({
              success: [
                { type: 'put', key: 'd', value: '1' },
                { type: 'put', key: 'd', value: '2' },
              ],
            }),
        ],
        [
          'a put inside a prefix deleted by the same transaction',
          (s) =>
            s.txn({
              failure: [
                { type: 'delete', key: 'd/', prefix: true },
                { type: 'put', key: 'd/x', value: '1' },
              ],
            }),
        ],
        ['fractional revision', (s) => s.compact(1.5)],
        ['zero fromRevision', (s) => s.watch('a', { fromRevision: 0 })],
        ['bad signal', (s) => s.watch('a', { signal: {} as AbortSignal })],
        ['unknown op type', (s) => s.txn({ success: [{ type: 'nope' } as never] })],
        [
          'unknown compare target',
          (s) => s.txn({ compare: [{ key: 'a', target: 'size', op: '=', value: 1 } as never] }),
        ],
        [
          'bad compare op',
          (s) => s.txn({ compare: [{ key: 'a', target: 'version', op: '>=', value: 1 } as never] }),
        ],
        [
          'too many ops',
          (s) =>
            s.txn({
              success: Array.from({ length: s.capabilities.maxTxnOps + 1 }, (_, i) => ({
                type: 'get' as const,
                key: `k${i}`,
              })),
            }),
        ],
        ['compact beyond the current revision', (s) => s.compact(Number.MAX_SAFE_INTEGER)],
      ];
      for (const [what, call] of bad) {
        it(`rejects ${what} with TENURE_INVALID_ARGUMENT naming the argument, and changes nothing`, async () => {
          const before = await store.revision();
          const err = await (async () => {
            try {
              await call(store);
            } catch (e) {
              return e;
            }
            return undefined;
          })();
          expect(err).toMatchObject({ name: 'TenureError', code: 'TENURE_INVALID_ARGUMENT' });
          expect((err as { details: { argument?: unknown } }).details.argument).toEqual(expect.any(String));
          expect(await store.revision()).toBe(before);
        });
      }

      it('keepAlive of an unknown lease is TENURE_LEASE_NOT_FOUND', async () => {
        expect(await codeOf(store.keepAlive('987654321'))).toBe('TENURE_LEASE_NOT_FOUND');
      });
    });

    describe('close', () => {
      it('is idempotent; every later call fails at once with TENURE_CLOSED; open watches end with it', async () => {
        const s = await harness.open();
        const lease = await s.grant(60_000);
        const it = s.watch('w')[Symbol.asyncIterator]();
        const pending = it.next();
        await sleep(10);
        await s.close();
        await s.close();
        expect(s.closed).toBe(true);
        expect(await codeOf(pending)).toBe('TENURE_CLOSED');
        const calls: (() => unknown)[] = [
          () => s.get('a'),
          () => s.put('a', 'b'),
          () => s.delete('a'),
          () => s.range('a'),
          () => s.txn({}),
          () => s.revision(),
          () => s.grant(1000),
          () => s.keepAlive(lease.id),
          () => s.revoke(lease.id),
          () => s.timeToLive(lease.id),
          () => s.compact(1),
          () => s.watch('a'),
        ];
        const t0 = performance.now();
        for (const call of calls) expect(await codeOf(async () => call())).toBe('TENURE_CLOSED');
        expect(performance.now() - t0).toBeLessThan(1000);
      });
    });
  });
}
