/**
 * Histories recorded from the real stores under a concurrent workload are linearizable; stores
 * broken on purpose (stale reads, lost writes) are caught.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { KeyValue, Store, Value } from '../../src/store/types.js';
import {
  History,
  RecordingStore,
  checkLinearizability,
  keyValueOperations,
  runRegisterWorkload,
  seededRandom,
  type HistoryEvent,
} from '../../src/verify/index.js';
import { startNode } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A property of a wrapped store, its methods bound to it (the stores keep private fields). */
function bound(target: Store, prop: string | symbol, receiver: unknown): unknown {
  const v = Reflect.get(target, prop, receiver) as unknown;
  return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
}

/**
 * A store whose replies come back after random delays, before and after the call reaches the
 * store, so that the clients' operations overlap as they would over a network.
 */
function delayed(inner: Store, seed: number): Store {
  const rnd = seededRandom(seed);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = bound(target, prop, receiver);
      if (typeof v !== 'function' || !['get', 'put', 'delete', 'txn'].includes(prop as string)) return v;
      return async (...args: unknown[]) => {
        await pause(rnd() * 2);
        const r = (await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
        await pause(rnd() * 2);
        return r;
      };
    },
  });
}

/** Broken on purpose: one read in three returns the first value the key ever had. */
function staleReads(inner: Store): Store {
  const first = new Map<string, KeyValue | undefined>();
  let n = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'get') return bound(target, prop, receiver);
      return async (key: string) => {
        const kv = await target.get(key);
        if (!first.has(key) && kv !== undefined) first.set(key, kv);
        return ++n % 3 === 0 && first.has(key) ? first.get(key) : kv;
      };
    },
  });
}

/** Broken on purpose: one blind put in four is acknowledged but never applied. */
function lostWrites(inner: Store): Store {
  let n = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'put') return bound(target, prop, receiver);
      return async (key: string, value: Value, options?: { lease?: string | null }) =>
        ++n % 4 === 0 ? target.revision() : target.put(key, value, options);
    },
  });
}

/** Runs `clients` concurrent register workloads through recorders over `store`. */
async function record(store: Store, clients: number, operations: number): Promise<History> {
  const history = new History();
  const stats = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      runRegisterWorkload(new RecordingStore(delayed(store, i + 1), { history, process: i }), {
        operations,
        seed: i + 1,
        client: String(i),
      }),
    ),
  );
  // No call failed: the recorded history is the workload's, not a list of errors.
  expect(stats.reduce((n, s) => n + s.errors, 0)).toBe(0);
  return history;
}

describe('recorded histories', () => {
  it('the memory store under 6 concurrent clients with delayed replies is linearizable', async () => {
    const store = new MemoryStore();
    cleanups.push(() => store.close());
    const history = await record(store, 6, 150);
    const { operations, excludedKeys } = keyValueOperations(history);
    expect(operations.length).toBe(900);
    expect(excludedKeys).toEqual([]);
    // The clients did overlap: some operation began while another was in flight.
    const sorted = [...operations].sort((a, b) => a.invokeTime - b.invokeTime);
    expect(sorted.some((o, i) => i > 0 && o.invokeTime < sorted[i - 1]!.returnTime)).toBe(true);
    const r = checkLinearizability(operations);
    expect(r).toMatchObject({ verdict: 'linearizable', keys: 3 });
    // Every kind of operation was recorded, cas both ways.
    const kinds = new Set(
      operations.map(
        (o) => `${o.op}${o.op === 'cas' ? String((o.result as { succeeded: boolean }).succeeded) : ''}`,
      ),
    );
    expect([...kinds].sort()).toEqual(['castrue', 'casfalse', 'delete', 'get', 'put'].sort());
  });

  it('negative controls: stale reads and lost writes are caught, with the key and the window', async () => {
    for (const broken of [staleReads, lostWrites]) {
      const store = new MemoryStore();
      cleanups.push(() => store.close());
      const history = await record(broken(store), 4, 150);
      const r = checkLinearizability(keyValueOperations(history).operations);
      expect(r.verdict, broken.name).toBe('violation');
      expect(r.violation!.key).toMatch(/^register\/\d$/);
      expect(r.violation!.window.length).toBeGreaterThanOrEqual(2);
      expect(r.violation!.window.length).toBeLessThan(60);
    }
  });

  it('records failures: a refused call is fail, a write the store may have applied is info', async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    cleanups.push(() => store.close());
    const rec = new RecordingStore(store, { process: 'p' });
    await rec.put('k', 'v');
    store.fault = (op) =>
      op === 'txn' ? new TenureError('TENURE_UNAVAILABLE', 'store unreachable') : undefined;
    await expect(rec.put('k', 'w')).rejects.toThrow('store unreachable');
    await expect(rec.get('k')).rejects.toThrow('store unreachable');
    store.fault = undefined;
    const gone = await store.grant(1000);
    await store.revoke(gone.id);
    await expect(rec.keepAlive(gone.id)).rejects.toMatchObject({ code: 'TENURE_LEASE_NOT_FOUND' });
    const lease = await rec.grant(1000);
    await rec.put('leased', 'x', { lease: lease.id });
    await rec.txn({
      success: [
        { type: 'put', key: 'a', value: '1' },
        { type: 'put', key: 'b', value: '2' },
      ],
    });
    const ops = rec.history.operations();
    expect(ops.map((o) => `${o.op}:${o.status}`)).toEqual([
      'put:ok',
      'put:info',
      'get:fail',
      'keepAlive:fail',
      'grant:ok',
      'put:ok',
      'txn:ok',
    ]);
    expect(ops[1]!.result).toMatchObject({ error: 'TENURE_UNAVAILABLE' });
    const kv = keyValueOperations(rec.history);
    expect(kv.excludedKeys).toEqual(['leased']);
    expect(kv.operations.map((o) => o.op)).toEqual(['put', 'put', 'get']);
    // Overlapping calls through one recorder get lanes of their own.
    const both = new RecordingStore(store, { process: 'q' });
    await Promise.all([both.get('k'), both.get('k')]);
    expect(both.history.events.map((e: HistoryEvent) => e.process)).toContain('q:1');
  });

  it('SQLite: 4 processes of 2 clients each, one killed midway, are linearizable', async () => {
    const { dir, cleanup } = tempDir('tenure-verify-');
    cleanups.push(cleanup);
    const path = join(dir, 'store.db');
    // Create the store (schema, WAL) before the workers open it: four first opens at once
    // contend for the file's lock while one of them sets it up, past busyTimeoutMs on a loaded
    // machine, and this test is about the histories, not about that start-up.
    await new SqliteStore({ path }).close();
    const fixture = join(import.meta.dirname, 'fixtures', 'register-worker.mjs');
    const workers = ['w1', 'w2', 'w3', 'w4'].map((id) => ({
      id,
      out: join(dir, `${id}.jsonl`),
      child: startNode(fixture, [path, id, '300', join(dir, `${id}.jsonl`)]),
    }));
    cleanups.push(() => workers.forEach((w) => w.child.proc.kill('SIGKILL')));
    await Promise.all(workers.map((w) => w.child.waitFor((l) => l === 'ready')));
    // Kill one once it is well into its run.
    const victim = workers[0]!;
    for (;;) {
      const lines = readFileSync(victim.out, 'utf8').split('\n').length;
      if (lines > 150) break;
      await pause(5);
    }
    victim.child.proc.kill('SIGKILL');
    expect(await victim.child.exited).toBe('SIGKILL');
    for (const w of workers.slice(1)) {
      const done = await w.child.waitFor((l) => l.startsWith('done'), 50_000);
      // Both clients made every call without an error.
      expect(JSON.parse(done.slice(5))).toEqual([
        { operations: 300, errors: 0 },
        { operations: 300, errors: 0 },
      ]);
    }

    const events: HistoryEvent[] = [];
    for (const w of workers)
      for (const line of readFileSync(w.out, 'utf8').split('\n'))
        if (line.endsWith('}')) events.push(JSON.parse(line) as HistoryEvent);
    // One clock (CLOCK_MONOTONIC) for all processes: order by time; within a process the file order holds.
    const merged = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.time - b.e.time || a.i - b.i);
    const history = new History(merged.map((x) => x.e));
    const { operations } = keyValueOperations(history);
    expect(operations.length).toBeGreaterThan(1500);
    const r = checkLinearizability(operations);
    expect(r.violation?.text).toBeUndefined();
    expect(r.verdict).toBe('linearizable');
  });
});
