import type { WatchBatch } from '../../src/store/types.js';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { codeOf } from '../helpers/async.js';
import { conformance } from './conformance.js';

const clock = new ManualClock();
conformance('memory', {
  open: async () => new MemoryStore({ clock }),
  advance: (ms) => clock.advance(ms),
  realTime: false,
  ttlMs: 1000,
  propertyRuns: 100,
});

describe('MemoryStore specifics', () => {
  it('a fault hook fails chosen operations and nothing else', async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    store.fault = (op) =>
      op === 'keepAlive' ? new TenureError('TENURE_UNAVAILABLE', 'injected') : undefined;
    const lease = await store.grant(1000);
    expect(await codeOf(store.keepAlive(lease.id))).toBe('TENURE_UNAVAILABLE');
    store.fault = undefined;
    expect(await store.keepAlive(lease.id)).toBe(1000);
  });

  it('keeps only retainRevisions of history', async () => {
    const store = new MemoryStore({ clock: new ManualClock(), retainRevisions: 10 });
    for (let i = 0; i < 30; i++) await store.put('k', String(i));
    expect(await codeOf(store.watch('k', { fromRevision: 5 })[Symbol.asyncIterator]().next())).toBe(
      'TENURE_COMPACTED',
    );
    const it2 = store.watch('k', { fromRevision: 25 })[Symbol.asyncIterator]();
    const batch = await it2.next();
    expect((batch.value as WatchBatch).events.map((e) => e.kv.modRevision)).toEqual([25, 26, 27, 28, 29, 30]);
  });
});
