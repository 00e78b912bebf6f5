/** The metrics hook: registered in the application's registry, fed from outside the recipes. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { instrument } from '../../src/metrics/index.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { eventually } from '../helpers/async.js';

describe('instrument()', () => {
  it('exports leader, term, failovers, lock, keepalive, store and slot metrics in Prometheus format', async () => {
    const registry = new Registry();
    const metrics = instrument({ registry });
    const store = metrics.store(new MemoryStore());
    const a = metrics.session(await Session.create(store, { ttlMs: 500 }));
    const b = await Session.create(store, { ttlMs: 500 });
    const ac = new AbortController();
    const observing = metrics.observeElection(new Election(b, 'cron'), { signal: ac.signal });
    const first = metrics.leadership(await new Election(a, 'cron').campaign('a'));
    // observe() skips leaders that come and go before it looks: let it see the first one.
    await eventually(
      async () =>
        (await registry.getSingleMetric('tenure_election_term')!.get()).values[0]?.value === first.term,
    );
    const lock = await metrics.lock(new Mutex(a, 'invoices'));
    await lock.unlock();
    const permit = await metrics.acquire('crawl', () => new Semaphore(a, 'crawl', 2).acquire());
    await permit.release();
    const read = await metrics.acquire('config', () => new RWLock(a, 'config').readLock());
    const next = new Election(b, 'cron').campaign('b');
    await first.resign();
    const second = metrics.leadership(await next);
    await eventually(
      async () =>
        (await registry.getSingleMetric('tenure_election_term')!.get()).values[0]?.value === second.term,
    );
    // At least one heartbeat of a (every ttl/3).
    await eventually(
      async () =>
        ((await registry.getSingleMetric('tenure_session_keepalive_seconds')!.get()).values.find(
          (v) => (v as { metricName?: string }).metricName === 'tenure_session_keepalive_seconds_count',
        )?.value ?? 0) > 0,
    );
    metrics.slotsMoved('demo', 4);
    const text = await registry.metrics();
    expect(text).toMatch(/^# TYPE tenure_is_leader gauge$/m);
    expect(text).toMatch(/^tenure_is_leader\{election="cron"\} 1$/m);
    expect(text).toMatch(new RegExp(`^tenure_election_term\\{election="cron"\\} ${second.term}$`, 'm'));
    expect(text).toMatch(/^tenure_election_failovers_total\{election="cron"\} 1$/m);
    expect(text).toMatch(/^tenure_lock_wait_seconds_count\{lock="invoices"\} 1$/m);
    expect(text).toMatch(/^tenure_lock_hold_seconds_count\{lock="invoices"\} 1$/m);
    expect(text).toMatch(/^tenure_lock_wait_seconds_count\{lock="crawl"\} 1$/m);
    expect(text).toMatch(/^tenure_lock_hold_seconds_count\{lock="crawl"\} 1$/m);
    // A lock still held has waited, and has no hold time yet.
    expect(text).toMatch(/^tenure_lock_wait_seconds_count\{lock="config"\} 1$/m);
    expect(text).not.toMatch(/^tenure_lock_hold_seconds_count\{lock="config"\}/m);
    await read.unlock();
    expect(text).toMatch(/^tenure_session_keepalive_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(
      /^tenure_store_operation_seconds_count\{op="txn",backend="memory",outcome="ok"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^tenure_slot_moves_total\{group="demo"\} 4$/m);
    await second.resign();
    expect(await registry.getSingleMetric('tenure_is_leader')!.get()).toMatchObject({
      values: [{ value: 0 }],
    });
    ac.abort();
    await observing;
    await a.close();
    await b.close();
  });
});
