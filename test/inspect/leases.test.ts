/**
 * inspect/leases.ts: what a reader can know of others' leases from `timeToLive` alone, on a driven
 * clock: the time left counted down between looks, a renewal seen as more time left, and a lease
 * whose time ran out told from one that let go.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { LeaseTracker } from '../../src/inspect/leases.js';
import type { Store } from '../../src/store/types.js';

/** A store whose leases' time left is whatever the test sets. */
function fakeStore(granularityMs = 1): { store: Store; left: Map<string, number>; asked: string[] } {
  const left = new Map<string, number>();
  const asked: string[] = [];
  const store = {
    capabilities: { ttlGranularityMs: granularityMs },
    timeToLive: (lease: string) => {
      asked.push(lease);
      return Promise.resolve(left.get(lease));
    },
  } as unknown as Store;
  return { store, left, asked };
}

describe('LeaseTracker', () => {
  it('counts the time left down between looks, and sees a renewal as more time left', async () => {
    const clock = new ManualClock();
    const { store, left } = fakeStore();
    const t = new LeaseTracker(store, () => clock.now());
    left.set('a', 3000);
    await t.look(['a']);
    expect(t.info('a')).toEqual({ remainingMs: 3000, maxRemainingMs: 3000 });
    await clock.advance(1000);
    expect(t.info('a')!.remainingMs).toBe(2000);
    expect(t.renewedAt('a')).toBe(0);
    left.set('a', 2500); // renewed since the last look, 500 ms ago (its ttl is 3000)
    await t.look(['a']);
    expect(t.renewedAt('a')).toBe(500);
    expect(t.ranOutBy('a', 3000)).toBe(false);
    expect(t.ranOutBy('a', 3500)).toBe(true);
    // Counting down without a renewal is not mistaken for one.
    await clock.advance(1000);
    left.set('a', 1500);
    await t.look(['a']);
    expect(t.renewedAt('a')).toBe(500);
    await clock.advance(5000);
    expect(t.info('a')!.remainingMs).toBe(0);
  });

  it('looks up only new leases between slow looks, and forgets leases no longer listed', async () => {
    const clock = new ManualClock();
    const { store, left, asked } = fakeStore();
    const t = new LeaseTracker(store, () => clock.now());
    left.set('a', 1000).set('b', 1000);
    await t.look(['a']);
    await t.lookNew(['a', 'b']);
    expect(asked).toEqual(['a', 'b']);
    expect(t.known('b')).toBe(true);
    await t.look(['b']);
    expect(t.known('a')).toBe(false);
    expect(t.info('a')).toBeUndefined();
    left.delete('b');
    await t.look(['b']);
    expect(t.info('b')).toEqual({ remainingMs: undefined, maxRemainingMs: undefined });
  });

  it('a lease a look finds gone, before its keys are seen deleted, is still told expired from let go, with its last renewal', async () => {
    // A reader's lease look and its watch race: the look can find the lease gone before the watch
    // delivers its keys' deletion. The crash must not then be taken for a release.
    const clock = new ManualClock();
    const { store, left } = fakeStore();
    const t = new LeaseTracker(store, () => clock.now());
    left.set('crashed', 1000).set('released', 1000);
    await t.look(['crashed', 'released']);
    await clock.advance(300);
    left.delete('released'); // revoked with 700 ms left
    left.set('crashed', 700); // not renewed since
    await t.look(['crashed', 'released']);
    await clock.advance(800);
    left.delete('crashed'); // ran out
    await t.look(['crashed', 'released']);
    expect(t.info('crashed')).toEqual({ remainingMs: undefined, maxRemainingMs: undefined });
    expect(t.ranOutBy('crashed', clock.now())).toBe(true);
    expect(t.renewedAt('crashed')).toBe(0);
    expect(t.ranOutBy('released', 300)).toBe(false);
    // Once no longer listed, it is forgotten.
    await t.look([]);
    expect(t.known('crashed')).toBe(false);
    expect(t.renewedAt('crashed')).toBeUndefined();
  });

  it('on a store that reports whole seconds, an unchanged time left still dates a renewal within its granularity', async () => {
    const clock = new ManualClock();
    const { store, left } = fakeStore(1000);
    const t = new LeaseTracker(store, () => clock.now());
    left.set('a', 2000);
    await t.look(['a']);
    await clock.advance(5000);
    await t.look(['a']);
    expect(t.renewedAt('a')).toBe(4000);
  });
});
